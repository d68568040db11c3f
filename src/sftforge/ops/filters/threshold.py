"""``RangeFilter``: the shared shape of the metric filters (a number, kept within min/max).

A subclass computes its metric in ``stats`` and names what changes the metric in
``metric_params`` (n-gram size, unit...), so two filters measuring different things never share
a cache slot in ``meta["stats"]``, while a filter that differs only in ``min``/``max`` does: a
threshold change re-decides from the cached value. ``min``/``max`` are inclusive; ``None`` is
off; both off means "measure only" (the metric is still recorded for the report).

Drop reasons hold the threshold, not the sample's value (``"chars below min 10"``), so the
report can group drops by reason; the value itself travels in the reject's ``value`` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...sample import Sample
from ..text import TextFilter

__all__ = ["RangeFilter"]


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(kw_only=True)
class RangeFilter(TextFilter):
    """A filter on one number: keep when ``min <= value <= max``."""

    min: float | None = None
    max: float | None = None
    # name of the metric in drop reasons (set by subclasses); empty = the metric key
    label: str = field(default="", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        if value is None:
            return True
        if self.min is not None and value < self.min:
            return False, f"{self.label or self.metric_key()} below min {_fmt(self.min)}"
        if self.max is not None and value > self.max:
            return False, f"{self.label or self.metric_key()} above max {_fmt(self.max)}"
        return True
