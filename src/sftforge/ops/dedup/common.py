"""Pieces shared by the dedup operators: option checks, keep order, cluster-size histograms, the
drop table built from sorted runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ...sample import Sample
from ..base import DropTable
from .spill import ColumnWriter, Runs, Spill
from .text import VIEWS

__all__ = [
    "KEEPS",
    "check_options",
    "cluster_histogram",
    "cluster_histogram_counts",
    "cluster_histogram_merge",
    "drop_runs",
    "drop_table",
    "keep_order",
    "rank_of",
    "sample_length",
    "size_counts",
]

KEEPS: tuple[str, ...] = ("first", "longest")


def check_options(view: str, keep: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"view '{view}' is not one of: {', '.join(VIEWS)}")
    if keep not in KEEPS:
        raise ValueError(f"keep '{keep}' is not one of: {', '.join(KEEPS)}")


def sample_length(sample: Sample) -> int:
    """What ``keep: longest`` compares: characters over every turn (answer detail wins)."""
    return sum(len(m.content) + len(m.reasoning or "") for m in sample.messages)


def keep_order(keep: str, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Indices in the order samples claim to be kept: input order, or longest first (stable)."""
    n = len(lengths)
    if keep == "first":
        return np.arange(n, dtype=np.int64)
    return np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")


def rank_of(order: np.ndarray) -> np.ndarray:
    """Each index's position in ``order`` (the inverse permutation)."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def _bin(size: int) -> str:
    if size <= 2:
        return str(size)
    hi = 1 << (size - 1).bit_length()
    return f"{hi // 2 + 1}-{hi}"


def cluster_histogram(sizes: Iterable[int]) -> dict[str, int]:
    """Clusters by size in power-of-two bins: {"1": singletons, "2": pairs, "3-4": ..., ...}."""
    return cluster_histogram_counts(Counter(sizes))


def cluster_histogram_counts(counts: Mapping[int, int]) -> dict[str, int]:
    """``cluster_histogram`` from {cluster size: how many clusters} (e.g. ``np.unique`` counts
    of a size column: no Python int per cluster)."""
    hist: Counter[str] = Counter()
    for size, count in counts.items():  # few distinct sizes: bin each once
        if count:
            hist[_bin(size)] += count
    return dict(sorted(hist.items(), key=lambda kv: int(kv[0].split("-")[0])))


def size_counts(sizes: np.ndarray) -> Counter[int]:
    """{size: how many} of an integer column, counted by numpy."""
    values, counts = np.unique(np.asarray(sizes, dtype=np.int64), return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def cluster_histogram_merge(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    """The histogram of the union of disjoint sets of clusters (``cluster_histogram`` each)."""
    hist: Counter[str] = Counter()
    for part in parts:
        hist.update(part)
    return dict(sorted(hist.items(), key=lambda kv: int(kv[0].split("-")[0])))


def drop_runs(spill: Spill, n: int) -> Runs:
    """Where a dedup gathers its drops as it finds them, in any order of runs: key = input
    position (of ``n``), payload = (kept twin's position, reason code, value)."""
    return Runs(spill, "drop-runs", spill.budget // 8, n)


def drop_table(runs: Runs, reasons: Sequence[str], spill: Spill) -> DropTable:
    """The drops gathered in ``runs`` (``drop_runs``) as a ``DropTable`` in ascending positions,
    read a key window at a time; its columns go to files past an eighth of the budget, so no
    array of every drop is held (a duplicate-heavy input drops a third of its samples)."""
    limit = spill.budget // 8
    writers = [ColumnWriter(spill, f"drops{k}", limit) for k in range(4)]
    for _, pos, (twin, reason, value) in runs.windows():
        for writer, col in zip(writers, (pos, reason, value, twin), strict=True):
            writer.append(col)
        if sum(w.in_memory for w in writers) > limit:
            for w in writers:
                w.to_file()
    types = (np.int64, np.int8, np.float64, np.int64)
    pos_c, reason_c, value_c, twin_c = (
        w.finish(np.dtype(t)) for w, t in zip(writers, types, strict=True)
    )
    return DropTable(pos_c, reason_c, reasons, value_c, twin_c)
