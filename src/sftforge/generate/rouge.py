"""ROUGE-L (LCS F-measure), CJK-aware: each Han/kana character is a token, other text is
lower-cased words of letters and digits. Used by self-instruct's novelty filter and the
similarity guards of paraphrase and translation.

``lcs_length`` is the bit-parallel LCS of Crochemore et al. (2001): one big-integer step per
token of ``a`` instead of a ``len(a) × len(b)`` table. ``RougeIndex`` answers "is this candidate
within the threshold of anything kept?" without scoring every pair: an inverted index gives each
kept text's token overlap with the candidate (an upper bound of the LCS), and only texts whose
bound can reach the threshold are scored.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import regex

__all__ = ["RougeIndex", "lcs_length", "rouge_l", "rouge_tokens"]

_TOKEN = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\W_\p{Han}\p{Hiragana}\p{Katakana}]+", regex.V1
)


def rouge_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _masks(tokens: list[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, t in enumerate(tokens):
        masks[t] = masks.get(t, 0) | (1 << i)
    return masks


def _lcs_bits(a: list[str], masks: dict[str, int], n: int) -> int:
    full = (1 << n) - 1
    v = full
    for x in a:
        m = masks.get(x)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return n - v.bit_count()


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if not a or not b:
        return 0
    return _lcs_bits(a, _masks(b), len(b))


def rouge_l(a: str | list[str], b: str | list[str]) -> float:
    """ROUGE-L F1 between two texts (or token lists); 0.0 when either is empty."""
    ta = rouge_tokens(a) if isinstance(a, str) else a
    tb = rouge_tokens(b) if isinstance(b, str) else b
    if not ta or not tb:
        return 0.0
    return 2 * lcs_length(ta, tb) / (len(ta) + len(tb))


class RougeIndex:
    """Texts kept so far; ``max_score`` is the highest ROUGE-L of a candidate against them."""

    def __init__(self) -> None:
        self._masks: list[dict[str, int]] = []
        self._lens: list[int] = []
        self._postings: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._lens)

    def add(self, text: str) -> None:
        toks = rouge_tokens(text)
        k = len(self._lens)
        self._masks.append(_masks(toks))
        self._lens.append(len(toks))
        for tok, c in Counter(toks).items():
            self._postings[tok].append((k, c))

    def max_score(self, text: str, *, stop_at: float = 1.0) -> float:
        """The best ROUGE-L against the kept texts; stops early once ``stop_at`` is reached.

        Exact whenever the result is below ``stop_at``; pairs whose overlap bound cannot beat
        the best score so far are skipped, which never changes the maximum.
        """
        cand = rouge_tokens(text)
        if not cand:
            return 0.0
        overlap: Counter[int] = Counter()
        for tok, c in Counter(cand).items():
            for k, ck in self._postings.get(tok, ()):
                overlap[k] += min(c, ck)
        n = len(cand)
        bounds = sorted(
            ((2 * o / (n + self._lens[k]), k) for k, o in overlap.items()), reverse=True
        )
        best = 0.0
        for bound, k in bounds:
            if bound <= best:
                break
            score = 2 * _lcs_bits(cand, self._masks[k], self._lens[k]) / (n + self._lens[k])
            if score > best:
                best = score
                if best >= stop_at:
                    break
        return best
