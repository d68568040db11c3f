"""MinHash signatures (``rensa``), LSH banding in numpy, and greedy verified near-dup matching.

Banding: ``choose_bands`` picks the largest number of rows per band such that a pair exactly at the
threshold still becomes a candidate with probability >= ``target`` (0.99): recall is decided here,
while precision comes from verifying every candidate (estimated Jaccard from the full signature, or
exact Jaccard of the shingle sets). For threshold 0.8 and 128 permutations that is 21 bands of 6
rows: P(candidate) is 0.998 at J=0.8, 0.28 at J=0.5 and 0.015 at J=0.3.

Matching is greedy in a given order (input order, or longest first): a sample is a duplicate when
a sample kept before it, sharing a band bucket, verifies at >= threshold; the most similar such
sample (earliest on ties) is its kept twin. Only kept samples are compared against, so every
dropped sample has a kept twin that really is similar (no chaining A~B~C dropping C for A).

Memory: within its limit the parent groups one band column at a time (8 bytes a sample) while it
builds the bucket table (4 bytes per band and sample, in a file past the limit); past it a band's
hashes are scattered to part files and grouped part by part. The matcher keeps the first kept
sample of each shared bucket in an array and the later ones in chains (the one structure here
that grows with the data: 8 bytes a shared bucket, 8 a further kept sample in one) and hands
its matches on a block at a time. Signatures stay in the workers unless ``verify: estimate``
needs them.
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable
from itertools import chain
from pathlib import Path

import numpy as np

from . import spill as _spill
from .spill import Column, ColumnWriter, Runs, Spill
from .text import mix64

__all__ = [
    "band_buckets",
    "band_hashes",
    "bucket_table",
    "candidate_probability",
    "choose_bands",
    "exact_jaccard",
    "greedy_match",
    "signatures",
]

SEED = 1_234_567


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that a pair with Jaccard ``s`` shares at least one band."""
    return float(1.0 - (1.0 - s**rows) ** bands)


def choose_bands(threshold: float, num_perm: int, target: float = 0.99) -> tuple[int, int]:
    """(bands, rows): most rows per band keeping P(candidate | J=threshold) >= ``target``."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1 or candidate_probability(threshold, bands, rows) < target:
            break
        best = (bands, rows)
    return best


# rensa computes up to this many rows on the calling thread (measured: 128 stays serial, 256 uses
# its rayon pool); see ``signatures``
_SERIAL_ROWS = 128
_parallel_pid: int | None = None  # the process whose rensa thread pool has started, if any


def signatures(
    flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = SEED
) -> np.ndarray:
    """MinHash signatures (rows, num_perm) uint32 of hashed shingle rows ``flat[offsets[i]:...]``."""
    rows = len(offsets) - 1
    if rows <= 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    import rensa

    digest = rensa.RMinHash.digest_matrix_from_flat_token_hashes
    global _parallel_pid
    if rows <= _SERIAL_ROWS or _parallel_pid in (None, os.getpid()):
        if rows > _SERIAL_ROWS:
            _parallel_pid = os.getpid()
        mat = digest(flat, offsets, num_perm, seed)
        values = chain.from_iterable(mat.to_rows())
        return np.fromiter(values, dtype=np.uint32, count=rows * num_perm).reshape(rows, num_perm)
    # A forked child of a process whose rensa thread pool (rayon) has started: the pool's threads
    # do not exist here and a parallel call would wait for them forever. Batches of at most
    # _SERIAL_ROWS rows stay on the calling thread; the rows' signatures are the same.
    out = np.empty((rows, num_perm), dtype=np.uint32)
    for start in range(0, rows, _SERIAL_ROWS):
        stop = min(start + _SERIAL_ROWS, rows)
        part = offsets[start : stop + 1]
        base = int(part[0])
        mat = digest(flat[base : int(part[-1])], part - part[0], num_perm, seed)
        values = chain.from_iterable(mat.to_rows())
        out[start:stop] = np.fromiter(
            values, dtype=np.uint32, count=(stop - start) * num_perm
        ).reshape(stop - start, num_perm)
    return out


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one hash per LSH band of each signature row (equal bands hash equal).

    A pure function of each row, so it is computed with the signatures (in the workers); it
    lets ``band_buckets`` sort 8-byte keys instead of ``4 × rows``-byte ones."""
    n = sig.shape[0]
    mult = np.random.default_rng(SEED).integers(1, 2**63, size=rows, dtype=np.uint64) * 2 + 1
    blk = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        return mix64((blk * mult).sum(axis=2, dtype=np.uint64))


def _groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal values as groups: (group of each value, group sizes, one member of each group)."""
    order = np.argsort(values)
    ordered = values[order]
    starts = np.empty(len(values), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = group
    return inverse, np.bincount(group), order[starts]


def band_buckets(
    sig: np.ndarray, bands: int, rows: int, hashes: np.ndarray | None = None
) -> np.ndarray:
    """(n, bands) int64 bucket ids, globally unique across bands; -1 where the bucket is a singleton.

    ``hashes`` (``band_hashes`` of ``sig``) makes it faster; buckets are still exact: samples
    sharing a hash are checked to share the band itself, and a band where two differ (a hash
    collision) is bucketed by its values."""
    n = sig.shape[0]
    out = np.full((n, bands), -1, dtype=np.int64)
    offset = 0
    for b in range(bands):
        cols = slice(b * rows, (b + 1) * rows)
        inverse = counts = None
        if hashes is not None and n:
            inverse, counts, rep = _groups(hashes[:, b])
            shared = counts[inverse] > 1
            if not (sig[shared, cols] == sig[rep[inverse[shared]], cols]).all():
                inverse = counts = None  # a collision: compare the bands themselves
        if inverse is None or counts is None:
            block = np.ascontiguousarray(sig[:, cols])
            keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
            _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        shared = counts[inverse] > 1
        out[shared, b] = inverse[shared] + offset
        offset += len(counts)
    return out


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted, unique uint64 arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


# bytes a row costs while one band's hashes are grouped (the column, the sort's order and
# inverse, group ids, flags): past the table's limit a band is grouped in hash partitions
_GROUP_BYTES = 64
_MAX_PARTS = 256  # each part scans the band column once


def _band_column(bands: Column, b: int) -> np.ndarray:
    n = len(bands)
    col = np.empty(n, dtype=np.uint64)
    for lo, block in bands.blocks():
        col[lo : lo + len(block)] = block[:, b]
    return col


def _band_parts(bands: Column, b: int, parts: int, spill: Spill) -> list[Path]:
    """Band ``b``'s (row, hash) pairs scattered by hash to ``parts`` files (equal hashes in one
    file, rows ascending in each), a block of rows at a time: no column of all of them."""
    paths = [spill.path(f"band-part{p}") for p in range(parts)]
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(path.open("wb")) for path in paths]
        for lo, block in bands.blocks():
            h = block[:, b]
            pid = (h % np.uint64(parts)).astype(np.int64)
            by = np.argsort(pid, kind="stable")
            cuts = np.searchsorted(pid[by], np.arange(parts + 1)).tolist()
            rec = np.empty(len(h), dtype=_PAIR)
            rec["row"] = by + lo
            rec["hash"] = h[by]
            for p in range(parts):
                if cuts[p + 1] > cuts[p]:
                    files[p].write(rec[cuts[p] : cuts[p + 1]].tobytes())
    return paths


_PAIR = np.dtype([("row", "<i8"), ("hash", "<u8")])


def bucket_table(bands: Column, order: np.ndarray | None, spill: Spill, limit: int) -> Column:
    """LSH buckets from band hashes, one band at a time, as a ``Column``.

    The table is band-major, in walk order: entry ``b * n + k`` is the bucket of band ``b`` of
    sample ``order[k]`` (``order`` None: input order, sample ``k``), -1 when it holds that
    sample alone; bucket ids are unique over shared buckets across bands (int32 where they
    fit). It stays in memory up to ``limit`` bytes, else goes to a file. Buckets are equal
    64-bit band hashes (``band_hashes``): two different bands colliding is a 2**-64 event per
    pair, and a false candidate is still verified. Past ``limit`` a band's (row, hash) pairs
    are scattered by hash to part files, each part is grouped alone and its bucket ids come
    back in walk order through sorted runs (``Runs``), so neither a column of the band's
    hashes nor one of its ids is held; which id a bucket gets changes, which buckets there are
    does not."""
    n, n_bands = len(bands), (bands.shape[1] if len(bands.shape) > 1 else 0)
    writer = ColumnWriter(spill, "buckets", limit)
    id_type = np.int32 if n * max(n_bands, 1) < 2**31 else np.int64
    parts = min(_MAX_PARTS, max(1, -(-n * _GROUP_BYTES // max(limit, 1))))
    # walk position of each sample (``order``'s inverse); input order needs none
    rank: np.ndarray | None = None
    if order is not None and parts > 1:
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
    offset = 0
    for b in range(n_bands):
        if parts == 1:  # the band fits: grouped at once
            col = _band_column(bands, b)
            ids = np.full(n, -1, dtype=id_type)
            if n:
                inverse, counts, _ = _groups(col)
                shared_group = counts > 1
                dense = np.cumsum(shared_group) - 1 + offset
                shared = shared_group[inverse]
                ids[shared] = dense[inverse[shared]]
                offset += int(shared_group.sum())
            del col
            writer.append(ids if order is None else ids[order])
            continue
        runs = Runs(spill, "band-ids", limit // 2, n)
        for path in _band_parts(bands, b, parts, spill):
            rec = np.fromfile(path, dtype=_PAIR)
            path.unlink()
            if not len(rec):
                continue
            inverse, counts, _ = _groups(rec["hash"])
            shared_group = counts > 1
            dense = np.cumsum(shared_group) - 1 + offset
            shared = shared_group[inverse]
            rows = rec["row"][shared]
            got = dense[inverse[shared]].astype(id_type)
            del rec, inverse, counts, shared
            offset += int(shared_group.sum())
            at = rows if rank is None else rank[rows]
            by = np.argsort(at, kind="stable")
            runs.add(at[by], got[by])
        done = 0
        for lo, at, (got,) in runs.windows():
            ids = np.full(min(lo + runs.window, n) - lo, -1, dtype=id_type)
            ids[at - lo] = got
            writer.append(ids)
            done = lo + len(ids)
        if done < n:  # no band shared at all: no run, no window
            writer.append(np.full(n - done, -1, dtype=id_type))
    return writer.finish(np.dtype(id_type))


def greedy_match(
    order: np.ndarray | None,
    table: Column,
    similarity: Callable[[int, np.ndarray], np.ndarray],
    threshold: float,
    sizes: Column,
    found: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
) -> None:
    """Walk ``order`` (None: input order) and hand each walk block's matches to ``found``:
    (the matched samples, ascending; each one's kept twin; its similarity to the twin).

    ``table``: ``bucket_table``'s buckets in walk order. ``similarity(j, candidates)`` gives the
    similarity of ``j`` to each candidate index. Only samples sharing a bucket with a
    non-empty view (``sizes``, in input order, above 0) are matched or become twins. The kept
    samples of each bucket are a compact table: the first one in an array (4 bytes a shared
    bucket), the others in chains of entries (4 bytes a bucket and 8 an entry). The matches
    leave a block at a time: nothing here is kept per sample or per match."""
    n = len(sizes)
    n_bands = len(table) // n if n else 0
    # input order ranks each sample by itself: no rank column (8 bytes a sample) to build
    rank: np.ndarray | None = None
    walk_sizes = sizes
    if order is not None:
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        walk_sizes = Column(sizes.whole()[order])  # a walk in another order reads them all
    n_buckets = 0
    for _, block in table.blocks():
        if len(block):
            n_buckets = max(n_buckets, int(block.max()) + 1)
    # bucket -> its first kept sample (int32 where the rows fit: 4 bytes a bucket)
    index_type = np.int32 if n < 2**31 else np.int64
    first = np.full(n_buckets, -1, dtype=index_type)
    # a bucket's later kept samples: a chain of entries from ``later[bucket]`` (its last
    # entry) through ``prev``; 4 bytes a bucket and 8 an entry (where they fit in int32: a
    # sample adds at most one entry a band), where a dict of lists cost ~200 bytes a bucket
    # (a duplicate-heavy input has tens of thousands of them)
    entry_type = np.int32 if n * max(n_bands, 1) < 2**31 else np.int64
    later = np.full(n_buckets, -1, dtype=entry_type)
    member = array("i" if n < 2**31 else "q")  # entry -> its sample
    prev = array("i" if entry_type is np.int32 else "q")  # entry -> the bucket's entry before
    step = _spill.BLOCK_ROWS
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        walk = np.arange(lo, hi, dtype=np.int64) if order is None else order[lo:hi]
        rows = np.stack([table.block(b * n + lo, b * n + hi) for b in range(n_bands)], axis=1)
        active = (rows >= 0).any(axis=1) & (walk_sizes.block(lo, hi) > 0)
        todo = np.flatnonzero(active)
        if not len(todo):
            continue
        dups: list[int] = []
        twins: list[int] = []
        sims_of: list[float] = []
        for k in todo.tolist():
            j = int(walk[k])
            bids = rows[k][rows[k] >= 0]
            heads = first[bids]
            cands_set = set(heads[heads >= 0].tolist())
            if member:
                for e in later[bids].tolist():
                    while e >= 0:
                        cands_set.add(member[e])
                        e = prev[e]
            if cands_set:
                cands = (
                    sorted(cands_set) if rank is None else sorted(cands_set, key=rank.__getitem__)
                )
                sims = similarity(j, np.asarray(cands, dtype=np.int64))
                best = int(np.argmax(sims))  # first maximum = earliest kept among equals
                if sims[best] >= threshold:
                    dups.append(j)
                    twins.append(cands[best])
                    sims_of.append(float(sims[best]))
                    continue
            free = heads < 0
            first[bids[free]] = j
            for bid in bids[~free].tolist():
                prev.append(int(later[bid]))
                later[bid] = len(member)
                member.append(j)
        if dups:
            dup = np.asarray(dups, dtype=np.int64)
            twin = np.asarray(twins, dtype=np.int64)
            sim = np.asarray(sims_of, dtype=np.float64)
            if order is not None:  # walk order is not input order
                by_index = np.argsort(dup, kind="stable")
                dup, twin, sim = dup[by_index], twin[by_index], sim[by_index]
            found(dup, twin, sim)
