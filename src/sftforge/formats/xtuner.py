"""XTuner's legacy single/multi-turn layout: ``{"conversation": [{"system", "input", "output"}, ...]}``.

Each round is one exchange; ``system`` is read from the first round only (XTuner allows one per
round, our Sample has one per conversation, so a later round's system is an error on read).
"""

from __future__ import annotations

from typing import Any

from ..sample import Message, Sample
from ._common import check_losses, fail, missing, not_a_string, pairs_of, require_dict, type_name
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["XTunerFormat"]


@register_format
class XTunerFormat(Format):
    name = "xtuner"
    capabilities = Capabilities(system=True, multi_turn=True)

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
            messages.append(Message("assistant", rnd["output"]))
        if not messages[-1].content.strip():
            fail(
                f"empty answer: 'conversation[{len(conv) - 1}].output' is empty.",
                field=f"conversation[{len(conv) - 1}].output",
            )
        return Sample(messages)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        system, pairs = pairs_of(sample, loss, self.name)
        check_losses(sample, self.capabilities, loss, self.name)
        rounds: list[dict[str, str]] = [{"input": u, "output": a} for u, a in pairs]
        if system is not None:
            rounds[0] = {"system": system, **rounds[0]}
        return {"conversation": rounds}
