"""Read the LLaMA-Factory demo sets and Stanford Alpaca into Samples (bench and oracle only).

Alpaca records (instruction/input/output, optional system/history) become user/assistant turns with
the prompt built as LLaMA-Factory's alpaca converter builds it ("instruction\\ninput"). ShareGPT
records (from/value; human/gpt/function_call/observation/system) become turns; a function_call's
JSON becomes ToolCalls and an observation a tool turn. Records that do not fit are skipped and
counted, never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
from _shared import SHARED_DATA

from sftforge.sample import Message, Sample, ToolCall

LF_DATA = SHARED_DATA / "llama_factory/data"
ALPACA_52K = SHARED_DATA / "stanford_alpaca/alpaca_data.json"
FASTCHAT_DUMMY = SHARED_DATA / "fastchat/dummy_conversation.json"
# name -> file, for the sets that do not live in LLaMA-Factory's demo folder
EXTRA = {"alpaca_52k": ALPACA_52K, "fastchat_dummy": FASTCHAT_DUMMY}


def alpaca_sample(rec: dict[str, Any]) -> Sample:
    msgs: list[Message] = []
    if rec.get("system"):
        msgs.append(Message("system", rec["system"]))
    for old_prompt, old_answer in rec.get("history") or []:
        msgs += [Message("user", old_prompt), Message("assistant", old_answer)]
    query = [x for x in (rec.get("instruction"), rec.get("input")) if x]
    msgs += [Message("user", "\n".join(query)), Message("assistant", rec["output"])]
    return Sample(msgs)


def _calls(text: str) -> list[ToolCall]:
    value = json.loads(text)
    items = value if isinstance(value, list) else [value]
    return [ToolCall(c["name"], c["arguments"]) for c in items]


def sharegpt_sample(rec: dict[str, Any]) -> Sample:
    roles = {"human": "user", "gpt": "assistant", "system": "system", "observation": "tool"}
    msgs: list[Message] = []
    for turn in rec["conversations"]:
        if turn["from"] == "function_call":
            msgs.append(Message("assistant", "", tool_calls=_calls(turn["value"])))
        else:
            msgs.append(Message(roles[turn["from"]], turn["value"]))  # type: ignore[arg-type]
    tools = json.loads(rec["tools"]) if rec.get("tools") else None
    return Sample(msgs, tools=tools or None)


def iter_samples(
    name: str, limit: int | None = None, skipped: list[int] | None = None
) -> Iterator[Sample]:
    """Samples of one set (a demo name, or 'alpaca_52k'), made as they are asked for; each record
    that does not fit adds one to ``skipped[0]``. The file is read and parsed on the first one."""
    path = EXTRA.get(name, LF_DATA / f"{name}.json")
    records = orjson.loads(path.read_bytes())[:limit]
    make = sharegpt_sample if records and "conversations" in records[0] else alpaca_sample
    for rec in records:
        try:
            sample = make(rec)
        except (KeyError, ValueError, TypeError):
            if skipped is not None:
                skipped[0] += 1
            continue
        yield sample


def load(name: str, limit: int | None = None) -> tuple[list[Sample], int]:
    """Samples of one set (a demo name, or 'alpaca_52k') and how many records were skipped."""
    skipped = [0]
    samples = list(iter_samples(name, limit, skipped))
    return samples, skipped[0]
