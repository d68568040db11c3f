"""``field_filter``: keep samples by the value of one field: equals, one of, a numeric range,
present or absent.

``field`` is a dotted path. ``meta.x.y`` reads ``sample.meta["x"]["y"]``; a path that does not
start with ``meta.`` names a Sample field (``id``, ``label``, ``tools``, ``rejected``, ``media``)
or else a ``meta`` key, so ``human_verified`` and ``meta.human_verified`` are the same field; a
``meta`` key that is absent is looked up among the input fields the readers keep under
``meta.fields`` (fields the Sample has no place for, under their own names). A number in
a path indexes a list (``judge.votes.0``). A missing key and JSON ``null`` are both "absent".

The scores ``generate judge`` writes live at ``meta.stats.judge_overall`` (and
``judge_harmlessness``, ``judge_honesty``, ``judge_helpfulness``): ``{field:
stats.judge_overall, min: 4}`` keeps what the judge rated 4 or better.

Comparisons: text read from CSV or a spreadsheet compares with a number or true/false as it reads
(``"4"`` equals 4; ``"TRUE"``, ``"yes"``, ``"是"`` equal true and ``"FALSE"``, ``"no"``, ``"否"``
false); a bool never equals a number. ``min``/``max`` are
inclusive and need a number (or a text that reads as one).

Like every filter the value goes to ``meta["stats"]`` under the metric key
(``field_filter:<field>``) and the decision reads it from there, so the report shows the values
and a reject carries it in ``value``; the drop reason says the value and the condition it failed
(``domain is "finance", not one of ["医学","law"]``). Unlike a text metric the value is looked up
again at each use rather than reused by content fingerprint: it reads ``meta``, which the
fingerprint (and the cross-run metric cache) leave out, and the lookup costs less than a
fingerprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from ...formats._common import FIELDS
from ...sample import Sample
from ..base import Filter, MetricMemo, register_op

__all__ = ["FieldFilter", "field_value"]

# Sample fields a path may name; anything else is a meta key
SAMPLE_FIELDS = frozenset({"id", "label", "tools", "rejected", "media"})
_SHOWN = 80  # characters of a value shown in a drop reason


def field_value(sample: Sample, path: str) -> Any:
    """The value at a dotted ``path`` (see the module docstring), or ``None`` when absent."""
    head, *rest = path.split(".")
    if head == "meta" and rest:
        return _meta_value(sample.meta, rest)
    if head in SAMPLE_FIELDS:
        value: Any = getattr(sample, head)
        if head in ("rejected", "media") and value is not None:
            value = sample.to_dict(with_meta=False).get(head)  # plain JSON, as written
        return _walk(value, rest)
    return _meta_value(sample.meta, [head, *rest])


def _meta_value(meta: dict[str, Any], parts: list[str]) -> Any:
    """A meta key, or else an input field the readers kept under ``meta.fields`` (so a CSV's
    ``human_verified`` column is found as ``human_verified`` or ``meta.human_verified``)."""
    value = _walk(meta, parts)
    if value is None and parts[0] != FIELDS:
        value = _walk(meta.get(FIELDS), parts)
    return value


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def _number(value: Any) -> float | None:
    """A number, or text that reads as one; ``None`` otherwise (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            return None
        return x if math.isfinite(x) else None
    return None


# how a spreadsheet or CSV cell spells a truth value (compared case-folded)
_TRUTH = {"true": True, "yes": True, "是": True, "false": False, "no": False, "否": False}


def _same(value: Any, want: Any) -> bool:
    """JSON equality, where text compares with a bool or number as it reads."""
    if isinstance(want, bool) or isinstance(value, bool):
        if isinstance(value, str):
            value = _TRUTH.get(value.strip().casefold(), value)
        if isinstance(want, str):
            want = _TRUTH.get(want.strip().casefold(), want)
        return isinstance(value, bool) and isinstance(want, bool) and value is want
    if isinstance(want, (int, float)) or isinstance(value, (int, float)):
        a, b = _number(value), _number(want)
        return a is not None and a == b
    return bool(value == want)


def _show(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _fmt(x: float) -> str:
    return f"{x:g}"


@register_op("field_filter")
@dataclass(kw_only=True)
class FieldFilter(Filter):
    """Keep samples whose ``field`` meets the condition(s)."""

    field: str = ""
    equals: Any = None
    one_of: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    present: bool | None = None
    # what the stats cache may leave out of the stage fingerprint: the value depends on field only
    decision_options: ClassVar[frozenset[str]] = frozenset(
        {"equals", "one_of", "min", "max", "present"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.field, str) or not self.field.strip():
            raise ValueError("field_filter needs a 'field' (a path such as meta.domain)")
        self.field = self.field.strip()
        value_conds = [
            c
            for c, on in (
                ("equals", self.equals is not None),
                ("one_of", self.one_of is not None),
                ("min/max", self.min is not None or self.max is not None),
            )
            if on
        ]
        if len(value_conds) > 1:
            raise ValueError(
                f"give one of equals, one_of or min/max, not {' and '.join(value_conds)}"
            )
        if not value_conds and self.present is None:
            raise ValueError("field_filter needs a condition: equals, one_of, min/max or present")
        if self.present is False and value_conds:
            raise ValueError("present: false cannot be combined with a value condition")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.one_of is not None and not isinstance(self.one_of, list):
            raise ValueError(f"one_of must be a list, not {type(self.one_of).__name__}")

    def metric_key(self) -> str:
        return f"{self.name}:{self.field}"

    def stats(self, sample: Sample) -> Any:
        return field_value(sample, self.field)

    def metric(self, sample: Sample, memo: MetricMemo | None = None) -> Any:
        # looked up at every use: meta is outside the content fingerprint (module docstring)
        value = self.stats(sample)
        stats = sample.meta.setdefault("stats", {})
        if value is None:
            stats.pop(self.metric_key(), None)
        else:
            stats[self.metric_key()] = value
        return value

    def _range(self) -> str:
        lo = "" if self.min is None else _fmt(self.min)
        hi = "" if self.max is None else _fmt(self.max)
        if self.max is None:
            return f">= {lo}"
        if self.min is None:
            return f"<= {hi}"
        return f"in [{lo}, {hi}]"

    def _wanted(self) -> str:
        if self.equals is not None:
            return _show(self.equals)
        if self.one_of is not None:
            return f"one of {_show(self.one_of)}"
        if self.min is not None or self.max is not None:
            return f"a number {self._range()}"
        return "present"

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        name = self.field
        if value is None:
            if self.present is False:
                return True
            if self.min is not None or self.max is not None:
                return False, f"{name} is absent, needs {self._wanted()}"
            return False, f"{name} is absent, not {self._wanted()}"
        shown = f"{name} is {_show(value)}"
        if self.present is False:
            return False, f"{shown}, not absent"
        if self.equals is not None and not _same(value, self.equals):
            return False, f"{shown}, not {self._wanted()}"
        if self.one_of is not None and not any(_same(value, w) for w in self.one_of):
            return False, f"{shown}, not {self._wanted()}"
        if self.min is not None or self.max is not None:
            x = _number(value)
            if x is None:
                return False, f"{shown}, not {self._wanted()}"
            if self.min is not None and x < self.min:
                return False, f"{shown}, below min {_fmt(self.min)}"
            if self.max is not None and x > self.max:
                return False, f"{shown}, above max {_fmt(self.max)}"
        return True
