"""Keyed global stages (dedup) on Ray, without gathering the keys on one node.

The local executor runs ``GlobalOp.choose`` once over every key. Both dedups decide each
sample from the samples it can be a duplicate of, so ``choose`` gives the same verdicts when it
runs alone on each part of a partition of the rows that never splits such a group: the rows of
a partition keep their input order, and every drop and kept twin found in a part is one the
whole run finds. The parts are:

- ``dedup_exact``: the rows hashed by their key (equal keys meet in one part; empty views,
  which are never duplicates, go by row number).
- ``dedup_near``: the connected components of the LSH bucket graph (``ray_components``). Rows
  in no shared bucket are singletons.

Then a scatter task per chunk writes each row's key columns to its part (one file per chunk,
the parts one after the other with their offsets in front, so a part's reader reads only its
slice), and a task per part runs the operator's own ``choose`` (the same exact-Jaccard
verification and greedy match as local) and returns its drops as key base rows. The driver
merges the drops (ascending rows) and the counters; it never holds a key column.
"""

from __future__ import annotations

import pickle
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SftforgeError
from ..ops.base import DropTable, GlobalOp, build_op, concat_keys
from ..ops.dedup.common import cluster_histogram_merge
from ..ops.dedup.spill import Spill
from .ray_components import bucket_forest, join_forests, scatter_bands
from .ray_parts import chunk_keys, read_part, write_parts

__all__ = ["PARTITIONED", "partitioned_drops"]

# keyed operators whose ``choose`` splits over parts, and how their parts are found
PARTITIONED = {"dedup_exact": "hash", "dedup_near": "components"}


# -- both: each row's key columns to its part, then ``choose`` per part ----------------------
def scatter_keys(
    bdir: str,
    chunk: int,
    lo: int,
    gone: np.ndarray,
    step: int,
    parts: int,
    out: str,
    kind: str,
    labels: tuple[np.ndarray, np.ndarray] | None,
) -> int:
    """Write the chunk's key rows that reach the stage to their parts; returns the chunk's
    row count."""
    keys, alive = chunk_keys(bdir, chunk, step, gone)
    n = len(alive)
    rows = np.arange(lo, lo + n, dtype=np.int64)
    where = rows % parts  # what is alone (an empty view, no shared bucket) goes by row
    if kind == "hash":
        key = np.asarray(keys["key"])
        full = ~np.asarray(keys["empty"], dtype=bool)
        where[full] = (key[full, 0] % np.uint64(parts)).astype(np.int64)
    elif labels is not None and len(labels[0]):
        nodes, label = labels
        at = np.minimum(np.searchsorted(nodes, rows), len(nodes) - 1)
        hit = nodes[at] == rows
        where[hit] = label[at[hit]] % parts
    blobs = []
    for p in range(parts):
        sel = alive & (where == p)
        blobs.append(pickle.dumps((rows[sel], concat_keys([keys], sel)), protocol=5))
    write_parts(Path(out) / f"k{chunk:06d}.bin", blobs)
    return n


def _no_fetch(_positions: Sequence[int]) -> Iterator[Any]:
    raise SftforgeError(
        "a dedup asked for samples in a distributed stage.",
        hint="run this operator with the local executor",
    )
    yield  # pragma: no cover


def choose_part(
    spec: tuple[str, dict[str, Any]], out: str, chunks: int, part: int, budget: int
) -> dict[str, Any]:
    """The operator's ``choose`` over one part; its drops as key base rows and its counters."""
    got = [read_part(Path(out) / f"k{c:06d}.bin", part) for c in range(chunks)]
    rows = np.concatenate([g[0] for g in got])
    keys = concat_keys([g[1] for g in got])
    del got
    op = build_op(*spec)
    assert isinstance(op, GlobalOp)
    spill_dir = Path(out) / f"spill{part}"
    op.spill = Spill(budget, spill_dir)  # type: ignore[attr-defined]
    try:
        drops = op.choose(keys, _no_fetch)
        if not isinstance(drops, DropTable):
            raise SftforgeError(f"operator '{op.name}' did not return a DropTable.")
        # read before the spill folder goes: past the budget the columns are files in it
        twin = drops.kept_positions
        result = {
            "rows": rows[drops.positions],
            "twins": np.where(twin >= 0, rows[np.maximum(twin, 0)], -1),
            "reason": drops.reason,
            "reasons": drops.reasons,
            "value": drops.value,
            "extra": dict(op.counters.extra),
            "clusters": dict(getattr(op, "clusters", {}) or {}),
        }
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    return result


def merge_parts(op: GlobalOp, results: list[dict[str, Any]]) -> DropTable:
    """The parts' drops as one table in ascending key base rows; the op's counters and
    cluster sizes as the whole run's."""
    rows = np.concatenate([r["rows"] for r in results]).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    # each part's reason codes into one list of reasons (the parts may list them differently)
    reasons = tuple(dict.fromkeys(x for r in results for x in r["reasons"]))
    codes = np.concatenate(
        [
            np.asarray([reasons.index(x) for x in r["reasons"]], dtype=np.int8)[r["reason"]]
            if len(r["reason"])
            else np.zeros(0, dtype=np.int8)
            for r in results
        ]
    )[order]
    extra: Counter[str] = Counter()
    for r in results:
        extra.update(r["extra"])
    hist = cluster_histogram_merge([r["clusters"] for r in results])
    # the order the local run lists them in: counts first, then cluster sizes by bin
    sizes = {f"cluster_size:{b}" for b in hist}
    op.counters.extra.update({k: v for k, v in extra.items() if k not in sizes})
    op.counters.extra.update({f"cluster_size:{b}": extra[f"cluster_size:{b}"] for b in hist})
    op.clusters = hist  # type: ignore[attr-defined]
    return DropTable(
        rows[order],
        codes,
        reasons,
        np.concatenate([r["value"] for r in results])[order],
        np.concatenate([r["twins"] for r in results]).astype(np.int64)[order],
    )


def partitioned_drops(
    pool: Any,
    op: GlobalOp,
    spec: tuple[str, dict[str, Any]],
    step: int,
    bdir: Path,
    offsets: list[int],
    gone: np.ndarray,
    work: Path,
    parts: int,
    budget: int,
) -> tuple[DropTable, int]:
    """Drops of keyed stage ``op`` as key base rows, found by Ray tasks (``pool``) per chunk
    and per part (see the module), and the bytes the tasks wrote to the parts (the shuffle)."""
    kind = PARTITIONED[op.name]
    work.mkdir(parents=True, exist_ok=True)
    nb = len(offsets) - 1
    local = [gone[(gone >= offsets[i]) & (gone < offsets[i + 1])] - offsets[i] for i in range(nb)]
    labels = None
    if kind == "components":
        pool.get(
            [
                pool.remote(
                    scatter_bands, str(bdir), i, offsets[i], local[i], step, parts, str(work)
                )
                for i in range(nb)
            ]
        )
        # the forests go from task to task through Ray's object store, never the driver
        forests = [pool.remote(bucket_forest, str(work), nb, p) for p in range(parts)]
        labels = pool.remote(join_forests, *forests)
    pool.get(
        [
            pool.remote(
                scatter_keys,
                str(bdir),
                i,
                offsets[i],
                local[i],
                step,
                parts,
                str(work),
                kind,
                labels,
            )
            for i in range(nb)
        ]
    )
    chosen = [pool.remote(choose_part, spec, str(work), nb, p, budget) for p in range(parts)]
    table = merge_parts(op, pool.get(chosen))
    shuffled = sum(p.stat().st_size for p in work.iterdir() if p.is_file())
    shutil.rmtree(work, ignore_errors=True)
    return table, shuffled
