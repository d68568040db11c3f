"""The kept twins of a keyed stage's drops, kept in files: their locators, ids and identities.

A dedup's rejects name each drop's kept twin (its id and where it was read). On a duplicate-heavy
input a third of the records can be twins; holding a Python dict and an id string for each
(~500 bytes a twin, plus a tuple per twin to count cluster sizes) made the parent's memory grow
with the data. ``TwinTable`` instead reads the key base's locator files once, in row order, and
writes each twin's pickled ``(locator, id)`` to one file; its other columns (the key it is looked
up by, its record's byte offset, a 128-bit digest of its identity and how many drops name it) are
``Column``s, in memory up to the spill's limit and in files past it, so nothing here is held per
twin past the budget. ``get`` finds a key through a sparse index (every ``STRIDE``-th key in
memory, the block around it read and kept in a small cache) and reads one record back
(``pread``) when a reject is written.

The digest stands for the tuple ``(id, *locator values)`` the run counted cluster sizes by
(two twin rows with equal tuples counted as one cluster), so ``cluster_sizes`` can group drops by
twin identity with numpy instead of a dict of tuples: in hash parts of the digests when they
passed the limit.
"""

from __future__ import annotations

import os
import pickle
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ..ops.dedup.spill import ColumnWriter, Spill
from .worker import PLACE_ID, places_path

__all__ = ["STRIDE", "TwinTable"]

STRIDE = 1024  # keys per block of the sparse index (a 8 KB read per lookup of a spilled table)
_CACHED = 64  # blocks of keys kept after a lookup (twins repeat: a cluster's drops name one)
_GROUP_BYTES = 64  # bytes a twin costs while digests are grouped (digest, count, sort, flags)


class TwinTable:
    """Locators and ids of the twins given by ``twins``: blocks of (keys, key base rows, drops
    naming each), keys and rows ascending and unique, of a finished stage whose chunk ``i``
    holds rows ``offsets[i]:offsets[i + 1]``. The records go to a file in ``spill``'s
    directory, the columns past ``limit`` bytes (together) too."""

    def __init__(
        self,
        sdir: Path,
        offsets: list[int],
        twins: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
        spill: Spill,
        limit: int,
    ) -> None:
        self._fd = -1
        self.spill, self.limit = spill, limit
        self.path = spill.path("twins")
        writers = {
            name: ColumnWriter(spill, f"twin-{name}", limit)
            for name in ("key", "pos", "digest", "count")
        }
        writers["pos"].append(np.zeros(1, dtype=np.int64))
        chunk, places = -1, {}
        written = 0
        with self.path.open("wb") as fh:
            for keys, rows, counts in twins:
                pos = np.empty(len(rows), dtype=np.int64)
                digest = np.empty((len(rows), 2), dtype=np.uint64)
                for k, r in enumerate(rows.tolist()):
                    if chunk < 0 or r >= offsets[chunk + 1]:
                        chunk = bisect_right(offsets, r) - 1
                        places = pickle.loads(places_path(sdir, chunk).read_bytes())
                    i = r - offsets[chunk]
                    found = {
                        k: v[i] for k, v in places.items() if v[i] is not None and k != PLACE_ID
                    }
                    twin_id = places[PLACE_ID][i]
                    blob = pickle.dumps((found or None, twin_id), protocol=5)
                    fh.write(blob)
                    written += len(blob)
                    pos[k] = written
                    ident = pickle.dumps((twin_id, *found.values()), protocol=5)
                    h = xxhash.xxh3_128_intdigest(ident)
                    digest[k] = (h >> 64, h & ((1 << 64) - 1))
                writers["key"].append(np.asarray(keys, dtype=np.int64))
                writers["pos"].append(pos)
                writers["digest"].append(digest)
                writers["count"].append(np.asarray(counts, dtype=np.int64))
                if sum(w.in_memory for w in writers.values()) > limit:
                    for w in writers.values():
                        w.to_file()
        self.keys = writers["key"].finish(np.dtype(np.int64))
        self.pos = writers["pos"].finish()
        self.digest = writers["digest"].finish(np.dtype(np.uint64), (2,))
        self.counts = writers["count"].finish(np.dtype(np.int64))
        # every STRIDE-th key: where to look for any key (all of them when in memory)
        self.index = (
            self.keys.whole()
            if not self.keys.spilled
            else self.keys.take(np.arange(0, len(self.keys), STRIDE, dtype=np.int64))
        )
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return len(self.keys)

    def _find(self, key: int) -> int:
        if not self.keys.spilled:
            return int(np.searchsorted(self.index, key))
        b = int(np.searchsorted(self.index, key, side="right")) - 1
        block = self._blocks.get(b)
        if block is None:
            block = self.keys.block(b * STRIDE, (b + 1) * STRIDE)
            self._blocks[b] = block
            if len(self._blocks) > _CACHED:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(b)
        return b * STRIDE + int(np.searchsorted(block, key))

    def get(self, key: int) -> tuple[dict[str, Any] | None, str]:
        """(locator or None, id) of the twin of key ``key``."""
        k = self._find(key)
        lo, hi = self.pos.block(k, k + 2).tolist()
        loc, twin_id = pickle.loads(os.pread(self._fd, hi - lo, lo))
        return loc, twin_id

    def cluster_sizes(self) -> Counter[int]:
        """Cluster sizes (drops + the kept twin) by twin identity: what counting
        ``(id, *locator values)`` tuples per drop gives. Twins sharing an identity are grouped
        by sorting the digests, in hash parts of them past the limit."""
        n = len(self.keys)
        parts = max(1, -(-n * _GROUP_BYTES // max(self.limit, 1)))
        sizes: Counter[int] = Counter()
        for p in range(parts if n else 0):
            dig_p, cnt_p = [], []
            for lo, dig in self.digest.blocks():
                cnt = self.counts.block(lo, lo + len(dig))
                if parts > 1:
                    sel = dig[:, 0] % np.uint64(parts) == p
                    dig, cnt = dig[sel], cnt[sel]
                dig_p.append(dig)
                cnt_p.append(cnt)
            dig = np.concatenate(dig_p)
            counts = np.concatenate(cnt_p)
            del dig_p, cnt_p
            if not len(dig):
                continue
            order = np.lexsort((dig[:, 1], dig[:, 0]))
            d = dig[order]
            starts = np.ones(len(d), dtype=bool)
            starts[1:] = (d[1:, 0] != d[:-1, 0]) | (d[1:, 1] != d[:-1, 1])
            per_twin = np.add.reduceat(counts[order], np.flatnonzero(starts))
            got, k = np.unique(per_twin + 1, return_counts=True)
            sizes.update(dict(zip(got.tolist(), k.tolist(), strict=True)))
        return Counter(dict(sorted(sizes.items())))  # by size, whatever the parts

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        for name in ("keys", "pos", "digest", "counts"):
            col = getattr(self, name, None)
            if col is not None:
                col.close()

    def __del__(self) -> None:
        self.close()
