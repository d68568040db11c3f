"""``dedup_exact``: drop samples whose chosen view is equal after normalisation.

The key is a 128-bit xxhash of the normalised view (NFKC, casefold, punctuation and symbols
dropped, whitespace collapsed), so "Hello, World!" and "hello world" are duplicates while any
change of a word is not. Samples whose view is empty after normalisation are kept untouched (an
empty answer is a filter's business, not a duplicate) and counted as ``empty_view``.

A keyed operator: ``keys`` hashes each sample (in the executor's workers); ``choose`` picks each
cluster's kept sample (the first in input order, or the longest with the earliest winning ties)
and drops the others with the kept twin's id and position and similarity 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xxhash

from ...sample import Sample
from ..base import Drop, Fetch, GlobalOp, Keys, register_op
from .common import check_options, cluster_histogram, sample_length
from .text import view_tokens

__all__ = ["ExactDedup"]


@register_op("dedup_exact")
@dataclass(kw_only=True)
class ExactDedup(GlobalOp):
    """Exact (normalised) duplicates on ``view``; ``keep`` is ``first`` or ``longest``."""

    view: str = "whole"
    keep: str = "first"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self.view, self.keep)
        self.clusters: dict[str, int] = {}

    def keys(self, samples: Sequence[Sample], memo: dict[Any, Any]) -> Keys:
        """Per sample: id, the hash of the normalised view (``None``: empty) and the length."""
        hashes: list[int | None] = [
            xxhash.xxh3_128_intdigest(" ".join(t).encode("utf-8")) if t else None
            for t in view_tokens(samples, self.view, memo)
        ]
        longest = self.keep == "longest"
        return {
            "id": [s.id for s in samples],
            "key": hashes,
            "length": [sample_length(s) for s in samples] if longest else [0] * len(samples),
        }

    def choose(self, keys: Keys, fetch: Fetch) -> list[Drop]:
        ids: list[str] = keys["id"]
        hashes: list[int | None] = keys["key"]
        # key -> [index of the kept sample, its length, cluster size]: one table, not two
        best: dict[int, list[int]] = {}
        empty = 0
        for i, (key, length) in enumerate(zip(hashes, keys["length"], strict=True)):
            if key is None:
                empty += 1
                continue
            entry = best.get(key)
            if entry is None:
                best[key] = [i, length, 1]
                continue
            entry[2] += 1
            if length > entry[1]:
                entry[0], entry[1] = i, length
        if empty:
            self.counters.extra["empty_view"] += empty
        sizes = [entry[2] for entry in best.values()]
        self.clusters = cluster_histogram(sizes + [1] * empty)
        self.counters.extra["clusters"] += sum(1 for v in sizes if v > 1)
        for size_bin, c in self.clusters.items():
            self.counters.extra[f"cluster_size:{size_bin}"] += c
        return [
            Drop(i, "exact_duplicate", 1.0, ids[best[k][0]], best[k][0])
            for i, k in enumerate(hashes)
            if k is not None and best[k][0] != i
        ]

    def report(self) -> dict[str, Any]:
        """What the run report shows: view, duplicate count and cluster sizes."""
        return {
            "view": self.view,
            "duplicates": sum(self.counters.dropped.values()),
            "cluster_sizes": dict(self.clusters),
        }
