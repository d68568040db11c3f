"""Refusal detection: an answer such as "I'm sorry, but I can't help with that." or
"抱歉，我无法帮助你。" is not a training answer, so the client fails that call with a reason
(the item goes to the failed file) instead of returning it as a good row.

The built-in phrases (English and Chinese) match only at the start of a short answer (at most
``SHORT`` characters): a long answer that apologises once and then helps is kept. Extra
patterns (regular expressions, searched anywhere in the answer) extend the list; the check can
be turned off (``LLMConfig.refusal_check``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import RecipeError

__all__ = ["SHORT", "RefusalDetector"]

SHORT = 400

_CANT = r"(?:can'?t|cannot|can not|am (?:not able|unable)|won'?t|will not|must decline)"
_BUILTIN = [
    # English
    rf"^(?:i'?m|i am) (?:really |very |so )?sorry,? (?:but )?(?:i|we) {_CANT}",
    rf"^(?:sorry|apologies|unfortunately),? (?:but )?i {_CANT}",
    rf"^i {_CANT} (?:help|assist|provide|comply|do (?:that|this)|fulfil|answer|support|engage|create|write|generate)",
    rf"^as an ai(?: language model| assistant)?,? i {_CANT}",
    # Chinese
    r"^(?:很|非常|十分)?(?:抱歉|对不起)[，,。！!、\s]*(?:(?:但是?|不过)[，,]?\s*)?我(?:无法|不能|没办法|不可以|做不到|不会)",
    r"^我(?:无法|不能|没办法)(?:提供|协助|帮助|帮你|帮您|回答|满足|完成|处理|生成)",
    r"^作为(?:一个)?(?:人工智能|AI|ai)(?:语言模型|助手|模型)?[，,]\s*我(?:无法|不能)",
]
_BUILTIN_RE = re.compile("|".join(f"(?:{p})" for p in _BUILTIN), re.IGNORECASE)


class RefusalDetector:
    """``match(text)``: the refusing words of ``text``, or None."""

    def __init__(self, extra: Iterable[str] = (), *, builtin: bool = True) -> None:
        self.builtin = builtin
        self.extra: list[re.Pattern[str]] = []
        for pattern in extra:
            try:
                self.extra.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise RecipeError(
                    f"refusal pattern {pattern!r} is not a valid regular expression ({exc}).",
                    field="llm.refusal_patterns",
                    hint="fix the pattern (Python re syntax) or remove it",
                ) from None

    def match(self, text: str) -> str | None:
        head = text.strip().replace("\u2019", "'")
        if self.builtin and len(head) <= SHORT:
            m = _BUILTIN_RE.match(head)
            if m is not None:
                return _sentence(head)
        for rx in self.extra:
            m = rx.search(text)
            if m is not None:
                return _sentence(text[m.start() :].strip())
        return None


def _sentence(text: str) -> str:
    """The first sentence (or 80 characters) of ``text``, for the failure reason."""
    m = re.search(r"[.!?。！？]", text)
    end = m.end() if m is not None and m.end() <= 80 else 80
    return text[:end] + ("…" if end < len(text) and m is None else "")
