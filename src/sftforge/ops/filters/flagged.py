"""``flagged_words_filter``: share of words that are on a flagged list.

The list is ``words`` (inline), or ``words_file`` (one entry per line, ``#`` comments), or, with
neither, the small default list shipped in ``data/flagged_words.txt``. Entries without CJK
characters are matched as whole words (case-insensitive, on the same word split as
``length_filter``; multi-word entries match consecutive words); entries with CJK characters are
matched as substrings, since Chinese has no spaces. The metric is flagged matches / words (as in
Data-Juicer, default ``max: 0.045``; ``max: 0`` drops on any hit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ...errors import RecipeError
from ...sample import Sample
from ..base import register_op
from ..text import has_cjk, list_digest, target_text, words
from .threshold import RangeFilter

__all__ = ["FlaggedWordsFilter", "load_word_list"]


def load_word_list(path: str | None) -> list[str]:
    """Entries of a word-list file (the shipped default when ``path`` is None)."""
    if path is None:
        text = resources.files(__package__).joinpath("data/flagged_words.txt").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RecipeError(
                f"flagged_words_filter: cannot read words_file '{path}': {exc.strerror}.",
                field="words_file",
                hint="give a UTF-8 text file with one word per line",
            ) from exc
    lines = (ln.split("#", 1)[0].strip() for ln in text.splitlines())
    return [ln for ln in lines if ln]


@dataclass(kw_only=True)
class FlaggedWordsFilter(RangeFilter):
    """Keep samples whose flagged-word ratio is within min/max (default max 0.045)."""

    words: list[str] | None = None
    words_file: str | None = None
    max: float | None = 0.045

    def __post_init__(self) -> None:
        super().__post_init__()
        entries = self.words if self.words is not None else load_word_list(self.words_file)
        self._default = self.words is None and self.words_file is None
        self._entries = entries
        self._single: set[str] = set()
        self._multi: list[tuple[str, ...]] = []
        cjk: list[str] = []
        for e in entries:
            if has_cjk(e):
                cjk.append(e)
                continue
            toks = tuple(w.lower() for w in words(e))
            if len(toks) == 1:
                self._single.add(toks[0])
            elif toks:
                self._multi.append(toks)
        cjk.sort(key=len, reverse=True)
        self._cjk_re = re.compile("|".join(map(re.escape, cjk))) if cjk else None
        self.label = self.label or "flagged-word ratio"

    def metric_params(self) -> str:
        # a different list is a different metric: key the cache by the list's content
        return "" if self._default else list_digest(self._entries)

    def stats(self, sample: Sample) -> float:
        text = target_text(sample, self.targets)
        toks = [w.lower() for w in words(text)]
        if not toks:
            return 0.0
        hits = sum(1 for t in toks if t in self._single)
        for phrase in self._multi:
            n = len(phrase)
            hits += sum(1 for i in range(len(toks) - n + 1) if tuple(toks[i : i + n]) == phrase)
        if self._cjk_re is not None:
            hits += len(self._cjk_re.findall(text))
        return hits / len(toks)


register_op("flagged_words_filter")(FlaggedWordsFilter)
