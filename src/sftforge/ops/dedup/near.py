"""``dedup_near``: MinHash-LSH near-duplicate removal on a chosen view.

A keyed operator:
1. ``keys`` (per sample, in the executor's workers): tokens -> shingles (see ``text.py``: CJK
   character n-grams, word n-grams otherwise, short texts as one whole-text shingle) -> MinHash
   signature (``rensa``) -> one 64-bit hash per LSH band; the parent gets the band hashes as
   numpy columns (in files past its memory budget) and builds the buckets one band at a time.
   With ``verify: exact`` the workers also keep each sample's sorted shingle hashes (a ragged
   key column), so ``choose`` never fetches or tokenizes a sample again: verifying a
   duplicate-heavy input costs a read and an intersection per candidate.
2. ``choose`` (in the parent) matches the candidates greedily (below).
3. the kept samples go on in input order; the others are rejected with their kept twin and
   similarity.

In ``choose`` the greedy matcher (``minhash.greedy_match``) decides, in input order
(``keep: first``) or longest first (``keep: longest``). The result depends only on the input
order, never on batching or workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...sample import Sample
from ..base import RAGGED, DropTable, Fetch, GlobalOp, Keys, register_op
from .common import (
    check_options,
    cluster_histogram_counts,
    drop_runs,
    drop_table,
    keep_order,
    sample_length,
    size_counts,
)
from .minhash import (
    SEED,
    band_hashes,
    bucket_table,
    choose_bands,
    exact_jaccard,
    greedy_match,
    signatures,
)
from .spill import Column, Ragged, Runs, Spill, as_column, ragged_offsets
from .text import shingle_hashes, unique_rows, view_tokens

__all__ = ["NearDedup"]

SETS = "shingle_set"  # the key column of shingle set sizes (values: SETS + RAGGED)
VERIFY = ("exact", "estimate")


@register_op("dedup_near")
@dataclass(kw_only=True)
class NearDedup(GlobalOp):
    """Near duplicates: Jaccard of shingle sets >= ``threshold``, found by MinHash-LSH.

    ``ngram``: tokens per shingle (a CJK character or a word is one token). ``bands``: LSH bands,
    ``None`` chooses them for the threshold (rows = num_perm // bands). ``verify``: candidates are
    confirmed by ``exact`` Jaccard of the shingle sets or by the ``estimate`` from the signatures.
    """

    view: str = "whole"
    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    bands: int | None = None
    verify: str = "exact"
    keep: str = "first"
    seed: int = SEED

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self.view, self.keep)
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.ngram < 1 or self.num_perm < 1:
            raise ValueError("ngram and num_perm must be at least 1")
        if self.verify not in VERIFY:
            raise ValueError(f"verify '{self.verify}' is not one of: {', '.join(VERIFY)}")
        if self.bands is None:
            self.n_bands, self.n_rows = choose_bands(self.threshold, self.num_perm)
        else:
            if not 1 <= self.bands <= self.num_perm:
                raise ValueError(f"bands must be between 1 and num_perm ({self.num_perm})")
            self.n_bands, self.n_rows = self.bands, self.num_perm // self.bands
        self.clusters: dict[str, int] = {}
        self.spill = Spill()

    def _sig(self, batch: Sequence[Sequence[str]]) -> np.ndarray:
        flat, offsets = shingle_hashes(batch, self.ngram)
        return signatures(flat, offsets, self.num_perm, self.seed)

    def keys(self, samples: Sequence[Sample], memo: dict[Any, Any]) -> Keys:
        """Per sample: length (``keep: longest``), token count and the hash of each of its LSH
        bands; the MinHash signature too with ``verify: estimate`` (the only use of it)."""
        toks = view_tokens(samples, self.view, memo)
        flat, offsets = shingle_hashes(toks, self.ngram)
        sig = signatures(flat, offsets, self.num_perm, self.seed)
        n = len(samples)
        keys: Keys = {
            "tokens": np.fromiter((len(t) for t in toks), dtype=np.int32, count=len(toks)),
            "bands": band_hashes(sig, self.n_bands, self.n_rows),
        }
        if self.keep == "longest":  # (``keep: first`` never reads a length: 8 bytes a sample)
            keys["length"] = np.fromiter((sample_length(s) for s in samples), np.int64, count=n)
        if self.verify == "estimate":
            keys["sig"] = sig
        else:  # the shingle sets, for exact verification without tokenizing again
            values, sizes = unique_rows(flat, offsets)
            keys[SETS + RAGGED] = values
            keys[SETS] = sizes
        return keys

    def _similarity(self, keys: Keys) -> Callable[[int, np.ndarray], np.ndarray]:
        if self.verify == "estimate":
            sig = as_column(keys["sig"])
            return lambda j, c: (sig.take(c) == sig.block(j, j + 1)).mean(axis=1)
        # the sets' offsets are summed a block of sizes at a time (a file past the budget)
        offsets = ragged_offsets(as_column(keys[SETS]), self.spill, self.spill.budget // 8)
        sets = Ragged(as_column(keys[SETS + RAGGED]), offsets)

        def exact(j: int, cands: np.ndarray) -> np.ndarray:
            mine = sets.get(j)
            return np.asarray([exact_jaccard(mine, sets.get(int(k))) for k in cands])

        return exact

    def choose(self, keys: Keys, fetch: Fetch) -> DropTable:
        """LSH buckets band by band, candidates verified (the workers' exact shingle sets, or
        the signatures' estimate), matched greedily: each duplicate's kept twin and similarity.
        Past the memory budget the bucket table, the shingle sets, their offsets and the drops
        live in files (``spill``); the result is the same. ``fetch`` is not needed."""
        tokens = as_column(keys["tokens"])
        n = len(tokens)
        # keep: first walks in input order: no order column (8 bytes a sample) to build
        order = (
            None
            if self.keep == "first"
            else keep_order(self.keep, as_column(keys["length"]).whole())
        )
        table = bucket_table(as_column(keys["bands"]), order, self.spill, self.spill.budget // 4)
        similarity = self._similarity(keys)
        runs = drop_runs(self.spill, n)
        # drops per kept twin, for the cluster sizes: sorted runs too (a twin can be anywhere)
        per_twin = Runs(self.spill, "twin-runs", self.spill.budget // 16, n)

        def found(dup: np.ndarray, twin: np.ndarray, sim: np.ndarray) -> None:
            short = (tokens.take(dup) < self.ngram).astype(np.int8)  # 1: short_exact_duplicate
            # Python's round (numpy's differs on a few halfway values)
            value = np.fromiter((round(v, 4) for v in sim.tolist()), np.float64, len(dup))
            runs.add(dup, twin, short, value)
            twins, counts = np.unique(twin, return_counts=True)
            per_twin.add(twins, counts)

        greedy_match(order, table, similarity, self.threshold, tokens, found)
        del table
        self._count(per_twin, tokens)
        return drop_table(runs, ("near_duplicate", "short_exact_duplicate"), self.spill)

    def _count(self, per_twin: Runs, tokens: Column) -> None:
        """Cluster sizes from the drops counted by kept twin (``per_twin``): a kept sample's
        cluster is itself and its drops; ``tokens`` gives the empty and short views."""
        # numpy a window of twins at a time: a Python dict entry per cluster grew the parent
        # with the data, and so would an array of every drop's twin
        counts = Counter[int]()
        n_twins = n_drops = 0
        for _, twins, (dups,) in per_twin.windows():
            if not len(twins):
                continue
            starts = np.flatnonzero(np.r_[True, twins[1:] != twins[:-1]])
            per = np.add.reduceat(dups, starts)
            counts += size_counts(per + 1)
            n_twins += len(per)
            n_drops += int(per.sum())
        n_empty = n_short = 0
        for _, block in tokens.blocks():
            n_empty += int((block == 0).sum())
            n_short += int(((block > 0) & (block < self.ngram)).sum())
        counts[1] += len(tokens) - n_drops - n_twins  # kept samples that no drop names
        self.clusters = cluster_histogram_counts(counts)
        extra = self.counters.extra
        extra["clusters"] += n_twins
        extra["empty_view"] += n_empty
        extra["short_view"] += n_short
        for b, c in self.clusters.items():
            extra[f"cluster_size:{b}"] += c

    def report(self) -> dict[str, Any]:
        """What the run report shows: settings, duplicate count and cluster sizes."""
        return {
            "view": self.view,
            "threshold": self.threshold,
            "ngram": self.ngram,
            "num_perm": self.num_perm,
            "bands": self.n_bands,
            "rows": self.n_rows,
            "verify": self.verify,
            "duplicates": sum(self.counters.dropped.values()),
            "cluster_sizes": dict(self.clusters),
        }
