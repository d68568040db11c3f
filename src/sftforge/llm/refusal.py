"""Refusal detection for LLM answers: "I'm sorry, but I can't help with that." or
"抱歉，我无法帮助你。" is not a training answer, so the client fails that call with a reason (the
item goes to the failed file) instead of returning it as a good row.

The phrases are the ``refusal_filter`` operator's (``DEFAULT_REFUSALS``, Chinese and English,
compared in its normalised form: case, curly apostrophes, blanks and full-width commas folded),
so a dataset cleaned with that filter and an answer checked here agree on what a refusal is.
Here a phrase must start within the first ``WINDOW`` characters of a short answer (at most
``SHORT`` characters): an answer that apologises once and then helps at length is kept.
``extra`` phrases extend the list (matched anywhere); ``builtin=False`` leaves only them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ops.filters.refusal import DEFAULT_REFUSALS, normalize

__all__ = ["SHORT", "WINDOW", "RefusalDetector"]

SHORT = 400
WINDOW = 40


class RefusalDetector:
    """``match(text)``: the refusal phrase found in ``text``, or None."""

    def __init__(self, extra: Iterable[str] = (), *, builtin: bool = True) -> None:
        # longest first, so the reported phrase is the most specific one
        self._builtin = sorted(
            ((normalize(p), p) for p in (DEFAULT_REFUSALS if builtin else ())),
            key=lambda np: len(np[0]),
            reverse=True,
        )
        self._extra = [(normalize(p), p) for p in extra if p.strip()]

    def match(self, text: str) -> str | None:
        norm = normalize(text)
        if len(norm) <= SHORT:
            for needle, phrase in self._builtin:
                at = norm.find(needle)
                if 0 <= at <= WINDOW:
                    return phrase
        for needle, phrase in self._extra:
            if needle in norm:
                return phrase
        return None
