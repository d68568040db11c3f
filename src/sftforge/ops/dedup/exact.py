"""``dedup_exact``: drop samples whose chosen view is equal after normalisation.

The key is a 128-bit xxhash of the normalised view (NFKC, casefold, punctuation and symbols
dropped, whitespace collapsed), so "Hello, World!" and "hello world" are duplicates while any
change of a word is not. Samples whose view is empty after normalisation are kept untouched (an
empty answer is a filter's business, not a duplicate) and counted as ``empty_view``.

Two passes: the first hashes every sample and picks each cluster's kept sample (the first in input
order, or the longest with the earliest winning ties); the second yields kept samples in input
order and rejects the others with the kept twin's id and similarity 1.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import xxhash

from ...sample import Sample
from ..base import GlobalOp, Reject, register_op
from .common import check_options, cluster_histogram, sample_length
from .text import normalize, view_text

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

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        ids: list[str] = []
        best: dict[int, tuple[int, int]] = {}  # key -> (index, length) of the kept sample
        keys: list[int | None] = []
        for i, s in enumerate(source()):
            ids.append(s.id)
            norm = normalize(view_text(s, self.view))
            if not norm:
                keys.append(None)
                self.counters.extra["empty_view"] += 1
                continue
            key = xxhash.xxh3_128_intdigest(norm.encode("utf-8"))
            keys.append(key)
            length = sample_length(s) if self.keep == "longest" else 0
            if key not in best or length > best[key][1]:
                best[key] = (i, length)
        sizes = Counter(k for k in keys if k is not None)
        self.clusters = cluster_histogram(
            list(sizes.values()) + [1] * self.counters.extra["empty_view"]
        )
        self.counters.extra["clusters"] += sum(1 for v in sizes.values() if v > 1)
        for b, c in self.clusters.items():
            self.counters.extra[f"cluster_size:{b}"] += c
        for i, s in enumerate(source()):
            self.counters.seen += 1
            k = keys[i]
            if k is None or best[k][0] == i:
                self.counters.kept += 1
                yield s
            else:
                twin = ids[best[k][0]]
                self.drop(reject, Reject(s, self.name, "exact_duplicate", 1.0, twin))

    def report(self) -> dict[str, Any]:
        """What the run report shows: view, duplicate count and cluster sizes."""
        return {
            "view": self.view,
            "duplicates": sum(self.counters.dropped.values()),
            "cluster_sizes": dict(self.clusters),
        }
