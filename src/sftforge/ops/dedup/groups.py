"""Connected groups of samples: union-find over shared meta keys and near-duplicate pairs.

Unlike dedup (greedy, kept-twin based) grouping must be transitive: if A~B and B~C, all three
go to the same split even when A and C are not similar, otherwise B leaks across the boundary.
Every pair sharing an LSH bucket is verified by the estimated Jaccard of the signatures; samples
with identical signatures are joined first, so a bucket of many copies costs one comparison each.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UnionFind", "near_dup_unions"]


class UnionFind:
    """Disjoint sets over 0..n-1; the root of a set is its smallest index (deterministic)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo

    def roots(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def near_dup_unions(
    uf: UnionFind,
    sig: np.ndarray,
    bands: int,
    rows: int,
    threshold: float,
    skip: np.ndarray | None = None,
) -> int:
    """Join every verified near-duplicate pair into ``uf``; returns the number of joins made."""
    joins = 0
    n = sig.shape[0]
    active = np.ones(n, dtype=bool) if skip is None else ~skip
    # identical signatures: join directly, keep one representative for the pair checks
    full = np.ascontiguousarray(sig).view(np.dtype((np.void, sig.dtype.itemsize * sig.shape[1])))
    _, first, inverse = np.unique(full.ravel(), return_index=True, return_inverse=True)
    rep = first[inverse.ravel()]
    for i in np.flatnonzero(active & (rep != np.arange(n))):
        if uf.find(int(i)) != uf.find(int(rep[i])):
            uf.union(int(i), int(rep[i]))
            joins += 1
    is_rep = active & (rep == np.arange(n))
    for b in range(bands):
        block = np.ascontiguousarray(sig[:, b * rows : (b + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        idx = np.flatnonzero(is_rep)
        order = idx[np.argsort(keys[idx], kind="stable")]
        sk = keys[order]
        cuts = np.flatnonzero(sk[1:] != sk[:-1]) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [len(order)]])
        shared = np.flatnonzero(ends - starts > 1)  # singleton buckets: nothing to compare
        for lo, hi in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
            members = np.sort(order[lo:hi])
            for x in range(len(members)):
                a = int(members[x])
                for y in range(x + 1, len(members)):
                    c = int(members[y])
                    if uf.find(a) == uf.find(c):
                        continue
                    if float((sig[a] == sig[c]).mean()) >= threshold:
                        uf.union(a, c)
                        joins += 1
    return joins
