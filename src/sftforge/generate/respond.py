"""respond: write the answer for instructions that have none, or rewrite answers scored low.

``mode``: ``missing`` (default) answers samples whose last turn is a user turn or whose final
answer is empty; ``low_score`` also rewrites answers whose ``meta["stats"][score_key]`` is below
``threshold`` (e.g. ``judge_overall`` from the judge generator); ``all`` answers everything.
Samples that need nothing pass through unchanged, with no call. ``n`` > 1 makes several
candidate answers per sample (for preference pairs via ``judge_pair``), each cached apart.
A rewritten sample keeps its id; the old answer is kept in ``meta["previous_answer"]``. Turns
are sent in the OpenAI wire format (tool calls and results included, the sample's ``tools`` as
``tools``); the answer is taken as text: a reply that is only a tool call counts as empty.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError
from ..llm.client import LLMClient
from ..llm.types import ChatMessages
from ..llm.wire import to_wire_messages, to_wire_tools
from ..sample import Message, Sample
from .base import Generator, llm_meta, register_generator

__all__ = ["Respond"]


def _needs_answer(sample: Sample) -> bool:
    last = sample.messages[-1] if sample.messages else None
    return last is None or last.role != "assistant" or not (last.content.strip() or last.tool_calls)


@register_generator
@dataclass(kw_only=True)
class Respond(Generator):
    task = "respond"

    mode: str = "missing"  # missing | low_score | all
    score_key: str = "judge_overall"
    threshold: float = 5.0
    system: str | None = None  # a system prompt for samples without one ("default": ours)
    n: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("missing", "low_score", "all"):
            raise RecipeError(f"respond mode must be missing, low_score or all, not {self.mode!r}")
        if self.n < 1:
            raise RecipeError("respond n must be at least 1")

    def wants(self, sample: Sample) -> bool:
        if _needs_answer(sample) or self.mode == "all":
            return True
        if self.mode == "low_score":
            score = (sample.meta.get("stats") or {}).get(self.score_key)
            return isinstance(score, (int, float)) and score < self.threshold
        return False

    def prompt(self, sample: Sample) -> ChatMessages:
        msgs = list(sample.messages)
        if msgs and msgs[-1].role == "assistant":
            msgs = msgs[:-1]
        out: ChatMessages = to_wire_messages(msgs)
        if self.system and not (msgs and msgs[0].role == "system"):
            text = self.system
            if text == "default":
                text = self.render("respond.system", self.lang_for(sample.prompt_text))
            out.insert(0, {"role": "system", "content": text})
        return out

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        if not self.wants(item):
            return [item]
        prompt = self.prompt(item)
        outs: list[Sample] = []
        for k in range(self.n):
            extra: dict[str, Any] = {"_candidate": k} if self.n > 1 else {}
            if (tools := to_wire_tools(item.tools)) is not None:
                extra["tools"] = tools
            comp = await client.complete(prompt, **{**self.params, **extra})
            s = copy.deepcopy(item)
            old = s.messages[-1] if s.messages[-1].role == "assistant" else None
            if old is not None:
                s.messages.pop()
                if old.content.strip():
                    s.meta["previous_answer"] = old.content
            s.messages.append(Message("assistant", comp.text, reasoning=comp.reasoning))
            s.meta.update(llm_meta(self.task, client, prompt, comp))
            s.meta.get("stats", {}).pop(self.score_key, None)  # the score was for the old answer
            if self.n > 1:
                s.meta["candidate"] = k
                s.id = f"{item.id}-c{k}"
            outs.append(s)
        return outs
