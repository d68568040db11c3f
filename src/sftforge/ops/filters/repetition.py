"""``char_repetition_filter`` and ``word_repetition_filter``: n-gram repetition ratios.

Both follow Data-Juicer's definitions (themselves from BigScience/Gopher), so thresholds carry
over:

- characters: count every character n-gram (default n=10); with ``F`` the n-gram frequencies
  sorted high to low, ``k = min(floor(sqrt(len(F))), number of n-grams seen more than once)``;
  ratio = ``sum(F[:k]) / sum(F)``.
- words: count every word n-gram (default n=10) over the lower-cased words (CJK characters are
  words, see ``length_filter``); ratio = (occurrences of n-grams seen more than once) / (all
  n-gram occurrences).

A text shorter than n (characters or words) has ratio 0. The text measured is the targeted
messages joined by newlines.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from ...sample import Sample
from ..base import register_op
from ..text import target_text, words
from .threshold import RangeFilter

__all__ = ["CharRepetitionFilter", "WordRepetitionFilter", "char_rep_ratio", "word_rep_ratio"]


@functools.lru_cache(maxsize=16)
def _ngram_re(n: int) -> re.Pattern[str]:
    # an empty match with a look-ahead capture: findall returns every overlapping n-gram,
    # built in C (a Python slice loop is about twice as slow)
    return re.compile(f"(?=(.{{{n}}}))", re.DOTALL)


def char_rep_ratio(text: str, n: int) -> float:
    if len(text) < n:
        return 0.0
    freq = Counter(_ngram_re(n).findall(text))
    repeated = [c for c in freq.values() if c > 1]
    if not repeated:
        return 0.0
    k = min(math.isqrt(len(freq)), len(repeated))
    # the k largest frequencies overall are among the repeated ones, since k <= len(repeated)
    top = heapq.nlargest(k, repeated)
    return sum(top) / (len(text) - n + 1)


def word_rep_ratio(text: str, n: int) -> float:
    toks = words(text, lower=True)
    m = len(toks)
    if m < n:
        return 0.0
    # Cheap exact shortcuts first. If an n-gram occurs twice, every word of its later occurrence
    # repeats an earlier word, and so do its last n - 1 word pairs and n - 3 word 4-grams: a
    # text with fewer repeated words than n, fewer repeated pairs than n - 1 or fewer repeated
    # 4-grams than n - 3 has no repeated n-gram (ratio 0). Most texts stop here, before the
    # costly n-gram count (on the 52k Alpaca set: 12.4k texts pass the pairs, 3.5k the 4-grams,
    # 2.2k have a repeated 10-gram).
    if m - len(set(toks)) < n:
        return 0.0
    if n > 1 and m - 1 - len(set(pairwise(toks))) < n - 1:
        return 0.0
    if n > 4:
        fours = zip(toks, toks[1:], toks[2:], toks[3:], strict=False)
        if m - 3 - len(set(fours)) < n - 3:
            return 0.0
    # zip over n shifted views builds the n-gram tuples in C
    grams = Counter(zip(*[toks[i:] for i in range(n)], strict=False))
    total = m - n + 1
    return sum(c for c in grams.values() if c > 1) / total


@dataclass(kw_only=True)
class _NgramRepetitionFilter(RangeFilter):
    """Shared by both filters: the n-gram size, its check, and ``n`` in the metric key."""

    n: int = 10
    max: float | None = 0.5
    unit: ClassVar[str] = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 1:
            raise ValueError(f"n must be at least 1, not {self.n}")
        self.label = self.label or f"{self.unit} {self.n}-gram repetition"

    def metric_params(self) -> str:
        return str(self.n)


@dataclass(kw_only=True)
class CharRepetitionFilter(_NgramRepetitionFilter):
    """Keep samples whose character n-gram repetition ratio is within min/max."""

    unit: ClassVar[str] = "char"

    def stats(self, sample: Sample) -> float:
        return char_rep_ratio(target_text(sample, self.targets), self.n)


@dataclass(kw_only=True)
class WordRepetitionFilter(_NgramRepetitionFilter):
    """Keep samples whose word n-gram repetition ratio is within min/max."""

    unit: ClassVar[str] = "word"

    def stats(self, sample: Sample) -> float:
        return word_rep_ratio(target_text(sample, self.targets), self.n)


register_op("char_repetition_filter")(CharRepetitionFilter)
register_op("word_repetition_filter")(WordRepetitionFilter)
