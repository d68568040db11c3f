"""XTuner's legacy single/multi-turn layout: ``{"conversation": [{"system", "input", "output"}, ...]}``.

Each round is one exchange; ``system`` is read from the first round only (XTuner allows one per
round, our Sample has one per conversation, so a later round's system is an error on read).
The record's ``id`` is the sample's id. Other keys of a record are kept in ``meta["fields"]``;
other keys of a round in the round's assistant message's ``Message.extra``, and written back on
the round (a round is one object for a user and an assistant turn: the user turn's keys, the
assistant's and, on the first round, the system turn's are merged into it).
"""

from __future__ import annotations

from typing import Any

from ..sample import Message, Sample
from ._common import (
    check_losses,
    fail,
    missing,
    no_answer,
    not_a_string,
    pairs_of,
    put_extra,
    put_fields,
    put_id,
    record_id,
    require_dict,
    take_fields,
    type_name,
    with_fields,
)
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["XTunerFormat"]

_KNOWN = frozenset({"id", "conversation"})
_ROUND_KEYS = frozenset({"system", "input", "output"})


@register_format
class XTunerFormat(Format):
    name = "xtuner"
    capabilities = Capabilities(
        system=True, multi_turn=True, ids=True, fields=True, turn_fields=True
    )

    def detect(self, value: Any) -> float:
        if type(value) is not dict:
            return 0.0
        conv = value.get("conversation")
        if type(conv) is not list or not conv or type(conv[0]) is not dict:
            return 0.0
        return 0.95 if "input" in conv[0] or "output" in conv[0] else 0.1

    def parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        conv = rec.get("conversation")
        if conv is None:
            missing("conversation", rec, self.name)
        if type(conv) is not list:
            fail(
                f"'conversation' must be a list of rounds, not {type_name(conv)}.",
                field="conversation",
            )
        if not conv:
            fail("'conversation' is empty.", field="conversation", hint="drop the record")
        messages: list[Message] = []
        for i, rnd in enumerate(conv):
            where = f"conversation[{i}]"
            if type(rnd) is not dict:
                fail(
                    f"'{where}' must be an object with 'input' and 'output', not {type_name(rnd)}.",
                    field=where,
                )
            for key in ("system", "input", "output"):
                v = rnd.get(key)
                if v is not None and type(v) is not str:
                    not_a_string(f"{where}.{key}", v)
            if "output" not in rnd:
                fail(
                    f"'{where}' has no 'output' (keys found: {', '.join(rnd) or 'none'}).",
                    field=f"{where}.output",
                )
            system = rnd.get("system")
            if system:
                if i:
                    fail(
                        f"'{where}.system': a system prompt is only supported in the first round.",
                        field=f"{where}.system",
                        hint="move it to conversation[0] or drop it",
                    )
                messages.append(Message("system", system))
            messages.append(Message("user", rnd.get("input") or ""))
            extra = take_fields(rnd, _ROUND_KEYS) if len(rnd) > 2 else None
            messages.append(Message("assistant", rnd["output"], extra=extra))
        if not messages[-1].content.strip():
            no_answer(
                f"empty answer: 'conversation[{len(conv) - 1}].output' is empty.",
                f"conversation[{len(conv) - 1}].output",
                "drop the record or fill it in",
            )
        if len(rec) == 1:
            return Sample(messages)
        meta = with_fields({}, take_fields(rec, _KNOWN))
        return Sample(messages, record_id(rec), None, None, None, None, meta)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        system, pairs = pairs_of(sample, loss, self.name)
        check_losses(sample, self.capabilities, loss, self.name)
        rounds: list[dict[str, Any]] = [{"input": u, "output": a} for u, a in pairs]
        if system is not None:
            rounds[0] = {"system": system, **rounds[0]}
        msgs = sample.messages
        if any(m.extra for m in msgs):
            # the turns pairs_of paired, in order: every user turn and every answer with text
            users = [m for m in msgs if m.role == "user"]
            answers = [m for m in msgs if m.role == "assistant" and (m.content or not m.tool_calls)]
            for rnd, u, a in zip(rounds, users, answers, strict=False):
                put_extra(rnd, u, _ROUND_KEYS, sample, loss, self.name)
                put_extra(rnd, a, _ROUND_KEYS, sample, loss, self.name)
            if msgs[0].role == "system":
                put_extra(rounds[0], msgs[0], _ROUND_KEYS, sample, loss, self.name)
        out: dict[str, Any] = {}
        put_id(out, sample)
        out["conversation"] = rounds
        put_fields(out, sample, _KNOWN, loss, self.name)
        return out
