"""``dedup_exact``: drop samples whose chosen view is equal after normalisation.

The key is a 128-bit xxhash of the normalised view (NFKC, casefold, punctuation and symbols
dropped, whitespace collapsed), so "Hello, World!" and "hello world" are duplicates while any
change of a word is not. Samples whose view is empty after normalisation are kept untouched (an
empty answer is a filter's business, not a duplicate) and counted as ``empty_view``.

A keyed operator: ``keys`` hashes each sample (in the executor's workers); ``choose`` picks each
cluster's kept sample (the first in input order, or the longest with the earliest winning ties)
and drops the others with the kept twin's position and similarity 1.0 (the twin's id is filled in
by whoever reads the drops). The keys are numpy columns (25 bytes a sample); past the memory
budget (``spill``) they are sorted in hash partitions, with the same result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xxhash

from ...sample import Sample
from ..base import DropTable, Fetch, GlobalOp, Keys, register_op
from .common import (
    check_options,
    cluster_histogram_counts,
    drop_runs,
    drop_table,
    keep_order,
    rank_of,
    sample_length,
    size_counts,
)
from .spill import Spill, as_column
from .text import view_tokens

__all__ = ["ExactDedup"]

_EMPTY = bytes(16)  # an empty view's key: zeros (it is flagged ``empty``, never compared)
# bytes a sample costs while its partition is sorted: key, row, rank and the sort's temporaries
# (measured: ~135 bytes a record of main-process peak at 416k records)
_BYTES_PER_ROW = 128
_MAX_PARTS = 256  # each partition reads the key file once


def _clusters(
    rows: np.ndarray, key: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal keys as clusters: (rows that are duplicates, their kept twin's row, cluster sizes).

    The kept sample of a cluster is its member of lowest ``rank``."""
    if len(rows) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    order = np.lexsort((rank, key[:, 1], key[:, 0]))
    k = key[order]
    starts = np.empty(len(order), dtype=bool)
    starts[0] = True
    np.not_equal(k[1:, 0], k[:-1, 0], out=starts[1:])
    starts[1:] |= k[1:, 1] != k[:-1, 1]
    group = np.cumsum(starts) - 1
    head = rows[order[starts]]  # the lowest rank of each cluster comes first
    dups = ~starts
    return rows[order[dups]], head[group[dups]], np.bincount(group)


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
        self.spill = Spill()

    def keys(self, samples: Sequence[Sample], memo: dict[Any, Any]) -> Keys:
        """Per sample: the 128-bit hash of the normalised view as two uint64 (empty view: a
        flag) and the length (``keep: longest`` only: ``keep: first`` never reads it); numpy
        columns, 17 bytes a sample (25 with the length)."""
        n = len(samples)
        toks = view_tokens(samples, self.view, memo)
        # the canonical 16-byte digest is the 128-bit hash big-endian: (high, low) 64-bit
        # words, read as one array (a numpy row assignment per sample cost more than the hash)
        digest = xxhash.xxh3_128_digest
        blob = b"".join(digest(" ".join(t).encode("utf-8")) if t else _EMPTY for t in toks)
        key = np.frombuffer(blob, dtype=">u8").reshape(n, 2).astype(np.uint64)
        empty = np.fromiter((not t for t in toks), dtype=bool, count=n)
        keys: Keys = {"key": key, "empty": empty}
        if self.keep == "longest":
            keys["length"] = np.fromiter((sample_length(s) for s in samples), np.int64, count=n)
        return keys

    def choose(self, keys: Keys, fetch: Fetch) -> DropTable:
        """Clusters of equal keys, found by sorting (key, rank) pairs; past the memory budget
        the keys are split by hash into partitions that are each sorted alone (a cluster never
        spans two), so the result is the same. Each cluster keeps its first sample in rank
        order (input order, or longest first with the earliest winning ties)."""
        key, empty = as_column(keys["key"]), as_column(keys["empty"])
        n = len(key)
        # keep: first ranks each row by itself: no rank column (16 bytes a sample) to build
        rank = (
            None
            if self.keep == "first"
            else rank_of(keep_order(self.keep, as_column(keys["length"]).whole()))
        )
        parts = min(_MAX_PARTS, max(1, -(-n * _BYTES_PER_ROW // self.spill.budget)))
        # each partition's drops are a run sorted by position; read back merged, they make the
        # table in ascending positions without an array of every drop (files past the budget)
        runs = drop_runs(self.spill, n)
        counts: Counter[int] = Counter()  # clusters by size (not a size per cluster: n of them)
        n_clusters = 0
        n_empty = 0
        for p in range(parts):
            rows_p, key_p = [], []
            for lo, block in key.blocks():
                e = empty.block(lo, lo + len(block))
                sel = ~e if parts == 1 else ~e & (block[:, 0] % np.uint64(parts) == p)
                if p == 0:
                    n_empty += int(e.sum())
                rows_p.append(np.flatnonzero(sel) + lo)
                key_p.append(block[sel])
            rows = np.concatenate(rows_p) if rows_p else np.zeros(0, dtype=np.int64)
            kp = np.concatenate(key_p) if key_p else np.zeros((0, 2), dtype=np.uint64)
            del rows_p, key_p
            dup, twin, size = _clusters(rows, kp, rows if rank is None else rank[rows])
            del rows, kp
            by_pos = np.argsort(dup, kind="stable")
            k = len(dup)
            runs.add(dup[by_pos], twin[by_pos], np.zeros(k, np.int8), np.ones(k, np.float64))
            del dup, twin, by_pos
            counts += size_counts(size)
            n_clusters += int((size > 1).sum())
        if n_empty:
            self.counters.extra["empty_view"] += n_empty
        counts[1] += n_empty
        self.clusters = cluster_histogram_counts(counts)
        self.counters.extra["clusters"] += n_clusters
        for size_bin, c in self.clusters.items():
            self.counters.extra[f"cluster_size:{size_bin}"] += c
        return drop_table(runs, ("exact_duplicate",), self.spill)

    def report(self) -> dict[str, Any]:
        """What the run report shows: view, duplicate count and cluster sizes."""
        return {
            "view": self.view,
            "duplicates": sum(self.counters.dropped.values()),
            "cluster_sizes": dict(self.clusters),
        }
