"""``turns_filter``: the number of turns in a conversation.

``count``: ``user`` (user turns, the usual meaning of "turns"; default), ``assistant``
(answers) or ``messages`` (every message including system and tool turns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...sample import Sample
from ..base import register_op
from .threshold import RangeFilter

__all__ = ["TurnsFilter"]


@dataclass(kw_only=True)
class TurnsFilter(RangeFilter):
    """Keep conversations with between ``min`` and ``max`` turns."""

    count: Literal["user", "assistant", "messages"] = "user"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count not in ("user", "assistant", "messages"):
            raise ValueError(f"count must be user, assistant or messages, not {self.count!r}")
        self.label = self.label or f"{self.count} turns"

    def metric_params(self) -> str:
        return self.count

    def stats(self, sample: Sample) -> int:
        if self.count == "messages":
            return len(sample.messages)
        return sum(1 for m in sample.messages if m.role == self.count)


register_op("turns_filter")(TurnsFilter)
