"""ROUGE-L (LCS F-measure), CJK-aware: each Han/kana character is a token, other text is
lower-cased words of letters and digits. Used by self-instruct's novelty filter and the
similarity guards of paraphrase and translation.
"""

from __future__ import annotations

import regex

__all__ = ["RougeIndex", "lcs_length", "rouge_l", "rouge_tokens"]

_TOKEN = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\W_\p{Han}\p{Hiragana}\p{Katakana}]+", regex.V1
)


def rouge_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


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
        self._tokens: list[list[str]] = []

    def __len__(self) -> int:
        return len(self._tokens)

    def add(self, text: str) -> None:
        self._tokens.append(rouge_tokens(text))

    def max_score(self, text: str, *, stop_at: float = 1.0) -> float:
        cand = rouge_tokens(text)
        best = 0.0
        for toks in self._tokens:
            # the F1 cannot pass 2*min/(sum): skip pairs whose lengths alone rule them out
            if 2 * min(len(cand), len(toks)) / max(1, len(cand) + len(toks)) <= best:
                continue
            best = max(best, rouge_l(cand, toks))
            if best >= stop_at:
                break
        return best
