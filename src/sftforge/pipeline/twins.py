"""The kept twins of a keyed stage's drops, kept in a file: their locators, ids and identities.

A dedup's rejects name each drop's kept twin (its id and where it was read). On a duplicate-heavy
input a third of the records can be twins; holding a Python dict and an id string for each
(~500 bytes a twin, plus a tuple per twin to count cluster sizes) made the parent's memory grow
with the data. ``TwinTable`` instead reads the key base's locator files once, in row order, and
writes each twin's pickled ``(locator, id)`` to one file; what stays in memory is three numpy
columns (its row, its record's byte offset, a 128-bit digest of its identity): 32 bytes a twin.
``get`` reads one record back (``pread``) when a reject is written.

The digest stands for the tuple ``(id, *locator values)`` the run counted cluster sizes by
(two twin rows with equal tuples counted as one cluster), so ``cluster_sizes`` can group drops by
twin identity with numpy instead of a dict of tuples.
"""

from __future__ import annotations

import os
import pickle
from bisect import bisect_right
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from .worker import PLACE_ID, places_path

__all__ = ["TwinTable"]


class TwinTable:
    """Locators and ids of the rows ``rows`` (ascending, unique) of a finished stage whose
    chunk ``i`` holds rows ``offsets[i]:offsets[i + 1]``; written to ``path``."""

    def __init__(self, sdir: Path, offsets: list[int], rows: np.ndarray, path: Path) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.path = path
        n = len(self.rows)
        self.pos = np.zeros(n + 1, dtype=np.int64)
        self.digest = np.zeros((n, 2), dtype=np.uint64)
        chunk, places = -1, {}
        written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            for k, r in enumerate(self.rows.tolist()):
                if chunk < 0 or r >= offsets[chunk + 1]:
                    chunk = bisect_right(offsets, r) - 1
                    places = pickle.loads(places_path(sdir, chunk).read_bytes())
                i = r - offsets[chunk]
                found = {k: v[i] for k, v in places.items() if v[i] is not None and k != PLACE_ID}
                twin_id = places[PLACE_ID][i]
                blob = pickle.dumps((found or None, twin_id), protocol=5)
                fh.write(blob)
                written += len(blob)
                self.pos[k + 1] = written
                h = xxhash.xxh3_128_intdigest(pickle.dumps((twin_id, *found.values()), protocol=5))
                self.digest[k] = (h >> 64, h & ((1 << 64) - 1))
        self._fd = os.open(path, os.O_RDONLY)

    def get(self, row: int) -> tuple[dict[str, Any] | None, str]:
        """(locator or None, id) of twin row ``row``."""
        k = int(np.searchsorted(self.rows, row))
        lo, hi = int(self.pos[k]), int(self.pos[k + 1])
        loc, twin_id = pickle.loads(os.pread(self._fd, hi - lo, lo))
        return loc, twin_id

    def cluster_sizes(self, twin_of_drop: np.ndarray) -> Counter[int]:
        """Cluster sizes (drops + the kept twin) by twin identity, from each drop's twin row:
        what counting ``(id, *locator values)`` tuples per drop gives."""
        if not len(twin_of_drop):
            return Counter()
        uniq, counts = np.unique(twin_of_drop, return_counts=True)
        dig = self.digest[np.searchsorted(self.rows, uniq)]
        order = np.lexsort((dig[:, 1], dig[:, 0]))
        d = dig[order]
        starts = np.ones(len(d), dtype=bool)
        starts[1:] = (d[1:, 0] != d[:-1, 0]) | (d[1:, 1] != d[:-1, 1])
        per_twin = np.add.reduceat(counts[order], np.flatnonzero(starts))
        sizes, n = np.unique(per_twin + 1, return_counts=True)
        return Counter(dict(zip(sizes.tolist(), n.tolist(), strict=True)))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
