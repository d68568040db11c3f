"""``empty_answer_filter``: drop samples whose targeted turns are empty or a placeholder.

A message counts as empty when its content, stripped of blanks, surrounding brackets/quotes and
final punctuation and case-folded, is empty or one of the placeholders: ``<noinput>``,
``<nooutput>``, ``N/A``, ``none``, ``null``, ``nan``, ``TBD``, ``...``, ``-``, ``无``, ``暂无``,
``空``, ``略``, ``不适用``... (``placeholders`` replaces the list, ``extra_placeholders`` adds to
it). An assistant turn that carries tool calls is never empty. The metric is the number of
empty targeted messages; ``mode: any`` (default) drops when one is empty, ``all`` only when
every targeted message is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ...sample import Message, Sample
from ..base import Targets, register_op, select_messages
from ..text import TextFilter, list_digest

__all__ = ["DEFAULT_PLACEHOLDERS", "EmptyAnswerFilter"]

DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    "noinput", "nooutput", "no input", "no output", "n/a", "na", "none", "null", "nil", "nan",
    "undefined", "tbd", "todo", "empty", "placeholder", "...", "…", "-", "--", "?",
    "无", "暂无", "空", "略", "无内容", "无回答", "暂无回答", "暂无答案", "不适用", "待补充",
)  # fmt: skip
_STRIP = " \t\r\n<>[](){}\"'`“”‘’「」【】.。!！?？,，;；:：*_#"


def _norm(text: str) -> str:
    return text.strip(_STRIP).casefold()


@dataclass(kw_only=True)
class EmptyAnswerFilter(TextFilter):
    """Drop samples whose targeted turns (default: answers) are empty or a placeholder."""

    targets: Targets = "assistant"
    placeholders: list[str] | None = None
    extra_placeholders: list[str] = field(default_factory=list)
    mode: Literal["any", "all"] = "any"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("any", "all"):
            raise ValueError(f"mode must be 'any' or 'all', not {self.mode!r}")
        words = DEFAULT_PLACEHOLDERS if self.placeholders is None else self.placeholders
        self._words = frozenset(_norm(w) for w in [*words, *self.extra_placeholders]) | {""}

    def metric_params(self) -> str:
        # the placeholder list changes the count: another list, another metric
        if self.placeholders is None and not self.extra_placeholders:
            return ""
        return list_digest(sorted(self._words))

    def _empty(self, m: Message) -> bool:
        if m.tool_calls:
            return False
        text = m.content
        # long texts cannot be a placeholder: skip the normalisation
        return len(text) <= 40 and _norm(text) in self._words

    def stats(self, sample: Sample) -> int:
        return sum(1 for m in select_messages(sample, self.targets) if self._empty(m))

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        if not value:
            return True
        msgs = select_messages(sample, self.targets)
        if self.mode == "all" and value < len(msgs):
            return True
        first = next(m for m in msgs if self._empty(m))
        shown = first.content.strip()
        if shown:
            return False, f"placeholder {first.role} '{shown}'"
        return False, f"empty {first.role}"


register_op("empty_answer_filter")(EmptyAnswerFilter)
