"""Near dedup on Ray: the connected components of the LSH bucket graph, as Ray tasks.

Two samples can only be near twins (or decide each other's fate through a kept twin) when a
chain of shared LSH buckets links them, so a component is a group ``choose`` may decide alone.
``scatter_bands`` (a task per chunk) sends each (band, band hash, row) of the samples with a view
to a part by hash; ``bucket_forest`` (a task per part) links the rows of each shared bucket and
reduces them to (row, smallest row of its component in this part); ``join_forests`` (one task)
joins the parts' forests. Only rows that share a bucket appear: 16 bytes each, never a key
column or a sample.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .ray_parts import chunk_keys, read_part, write_parts

__all__ = ["bucket_forest", "components", "join_forests", "scatter_bands"]


def scatter_bands(
    bdir: str, chunk: int, lo: int, gone: np.ndarray, step: int, parts: int, out: str
) -> None:
    """(band, band hash, row) of each of the chunk's samples with a view, by part of the hash."""
    keys, alive = chunk_keys(bdir, chunk, step, gone)
    alive &= np.asarray(keys["tokens"]) > 0
    bands = np.asarray(keys["bands"])[alive]
    rows = np.flatnonzero(alive) + lo
    n_bands = bands.shape[1] if bands.ndim == 2 else 0
    band = np.tile(np.arange(n_bands, dtype=np.int64), len(rows))
    hashes = bands.reshape(-1)
    row = np.repeat(rows, n_bands)
    where = hashes % np.uint64(parts)
    blobs = []
    for p in range(parts):
        sel = where == p
        blobs.append(pickle.dumps((band[sel], hashes[sel], row[sel]), protocol=5))
    write_parts(Path(out) / f"b{chunk:06d}.bin", blobs)


def bucket_forest(out: str, chunks: int, part: int) -> tuple[np.ndarray, np.ndarray]:
    """One part's shared buckets as (row, smallest row of its local component) pairs."""
    got = [read_part(Path(out) / f"b{c:06d}.bin", part) for c in range(chunks)]
    band = np.concatenate([g[0] for g in got])
    hashes = np.concatenate([g[1] for g in got])
    row = np.concatenate([g[2] for g in got])
    del got
    if not len(row):
        z = np.zeros(0, dtype=np.int64)
        return z, z
    order = np.lexsort((row, hashes, band))
    band, hashes, row = band[order], hashes[order], row[order]
    starts = np.ones(len(row), dtype=bool)
    starts[1:] = (band[1:] != band[:-1]) | (hashes[1:] != hashes[:-1])
    head = row[starts][np.cumsum(starts) - 1]  # each entry's bucket's first row
    pair = ~starts
    return components(head[pair], row[pair])


def components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the edges ``a[i] - b[i]``: (nodes ascending, the smallest node
    of each one's component). Min-label propagation with pointer jumping, all in numpy."""
    if not len(a):
        z = np.zeros(0, dtype=np.int64)
        return z, z
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inv[: len(a)], inv[len(a) :]
    label = np.arange(len(nodes))
    while True:
        low = np.minimum(label[u], label[v])
        new = label.copy()
        np.minimum.at(new, u, low)
        np.minimum.at(new, v, low)
        while True:  # point every node at its label's label until nothing moves
            hop = new[new]
            if np.array_equal(hop, new):
                break
            new = hop
        if np.array_equal(new, label):
            return nodes, nodes[label]
        label = new


def join_forests(*forests: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The components of the union of the parts' forests (rows in a shared bucket only)."""
    a = np.concatenate([f[0] for f in forests]) if forests else np.zeros(0, dtype=np.int64)
    b = np.concatenate([f[1] for f in forests]) if forests else np.zeros(0, dtype=np.int64)
    return components(a, b)
