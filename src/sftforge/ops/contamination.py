"""N-gram overlap (contamination) between splits.

A sample of an evaluation split is *contaminated* when any of its n-grams (default 13, the usual
size for benchmark-contamination checks) also occurs anywhere in the reference split (``train``).
Tokens are the dedup tokens: a CJK character or a word, so Chinese is checked with character
13-grams and English with word 13-grams. Texts shorter than n tokens count as one whole-text
n-gram, so an exact copy of a short prompt is still caught.

Memory: the reference n-grams are kept as one sorted uint64 array (8 bytes per n-gram), the
evaluation splits' n-grams as arrays per sample; no Python object per n-gram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dedup.text import shingle_hashes, tokens

__all__ = ["ContaminationCounter"]


class ContaminationCounter:
    """Feed samples' texts with their split; ``report()`` measures overlap with ``reference``."""

    def __init__(self, n: int = 13, reference: str = "train") -> None:
        self.n = n
        self.reference = reference
        self._ref: list[np.ndarray] = []
        self._eval: dict[str, list[np.ndarray]] = {}

    def add_batch(self, texts: Sequence[str], splits: Sequence[str]) -> None:
        flat, offsets = shingle_hashes([tokens(t) for t in texts], self.n)
        for k, split in enumerate(splits):
            grams = flat[offsets[k] : offsets[k + 1]]
            if split == self.reference:
                self._ref.append(grams)
            else:
                self._eval.setdefault(split, []).append(grams)

    def report(self) -> dict[str, Any]:
        ref = np.unique(np.concatenate(self._ref)) if self._ref else np.zeros(0, np.uint64)
        splits: dict[str, Any] = {}
        for name in sorted(self._eval):
            rows = self._eval[name]
            sizes = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
            flat = np.concatenate(rows) if rows else np.zeros(0, np.uint64)
            hit = np.isin(flat, ref, assume_unique=False)
            owner = np.repeat(np.arange(len(rows)), sizes)
            per_sample = np.bincount(owner[hit], minlength=len(rows))
            contaminated = int((per_sample > 0).sum())
            splits[name] = {
                "samples": len(rows),
                "contaminated": contaminated,
                "fraction": round(contaminated / len(rows), 6) if rows else 0.0,
                "ngram_overlap": round(float(hit.mean()), 6) if len(flat) else 0.0,  # occurrences
            }
        return {"reference": self.reference, "ngram": self.n, "splits": splits}
