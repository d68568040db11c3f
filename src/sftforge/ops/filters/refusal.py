"""``refusal_filter``: drop answers that refuse or talk about being an AI.

Phrases are matched case-insensitively, with any run of blanks matching any other, straight or
curly apostrophes alike and blanks around commas ignored, anywhere in the targeted messages
(``window`` limits the search to the first N characters of each message, where refusals usually
sit). ``phrases`` replaces the default Chinese + English list, ``extra_phrases`` adds to it. The
metric is the first phrase found (``null`` when none), which is also the drop reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...sample import Sample
from ..base import Targets, register_op, select_messages
from ..text import TextFilter, list_digest

__all__ = ["DEFAULT_REFUSALS", "RefusalFilter", "normalize"]

DEFAULT_REFUSALS: tuple[str, ...] = (
    # English
    "as an ai language model", "as a language model", "as an ai assistant", "as an ai,",
    "i'm an ai language model", "i am an ai language model", "i'm just an ai",
    "i'm sorry, but i can't", "i'm sorry, but i cannot", "i am sorry, but i cannot",
    "i'm sorry, i can't", "i'm sorry, i cannot", "sorry, but i can't assist",
    "i cannot fulfill", "i can't fulfill", "i cannot comply", "i can't comply",
    "i'm unable to provide", "i am unable to provide", "i'm not able to provide",
    "i cannot provide assistance", "i can't assist with that", "i cannot assist with that",
    "i'm not able to help with", "it is not appropriate for me", "it's not appropriate for me",
    "i do not have personal opinions", "i don't have personal opinions",
    "i do not have the ability to", "my knowledge cutoff", "openai's content policy",
    "against my programming", "i apologize, but i cannot", "i apologize, but i can't",
    # Chinese
    "作为一个ai语言模型", "作为一个人工智能语言模型", "作为ai语言模型", "作为一个ai", "作为一个人工智能",
    "作为人工智能", "作为一名ai", "作为一个语言模型", "我是一个ai语言模型", "我只是一个ai",
    "抱歉，我无法", "抱歉，我不能", "对不起，我无法", "对不起，我不能", "很抱歉，我无法",
    "很抱歉，我不能", "我无法提供", "我不能提供", "我无法回答", "我不能回答", "我无法满足",
    "我无法协助", "我不能协助", "我没有个人观点", "我没有个人意见", "我没有能力",
)  # fmt: skip


_FOLD = str.maketrans({"’": "'", "‘": "'", "，": ","})
_COMMA_RE = re.compile(r"\s*,\s*")


def normalize(text: str) -> str:
    """Case-folded, curly apostrophes straightened, blank runs as one space, no space around
    commas: the form both phrases and texts are compared in."""
    text = " ".join(text.casefold().translate(_FOLD).split())
    return _COMMA_RE.sub(",", text) if "," in text else text


@dataclass(kw_only=True)
class RefusalFilter(TextFilter):
    """Drop samples whose targeted turns (default: answers) contain a refusal phrase."""

    targets: Targets = "assistant"
    phrases: list[str] | None = None
    extra_phrases: list[str] = field(default_factory=list)
    window: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        phrases = list(DEFAULT_REFUSALS if self.phrases is None else self.phrases)
        phrases += self.extra_phrases
        # longest first, so the reported phrase is the most specific one that matches
        phrases.sort(key=len, reverse=True)
        self._phrases = phrases
        # plain substring tests on normalised text: ~70 C-level searches beat one big
        # case-insensitive regex alternation by two orders of magnitude
        self._needles = [(normalize(p), p) for p in phrases]

    def metric_params(self) -> str:
        parts = []
        if self.phrases is not None or self.extra_phrases:
            parts.append(list_digest(self._phrases))
        if self.window is not None:
            parts.append(f"w{self.window}")
        return ":".join(parts)

    def stats(self, sample: Sample) -> str | None:
        for m in select_messages(sample, self.targets):
            text = normalize(m.content if self.window is None else m.content[: self.window])
            for needle, phrase in self._needles:
                if needle in text:
                    return phrase
        return None

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        return True if value is None else (False, f"refusal phrase '{value}'")


register_op("refusal_filter")(RefusalFilter)
