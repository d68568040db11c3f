"""Key columns that live in memory or, past a memory budget, in files: one code path for both.

A keyed global operator's parent process holds per-sample keys for the whole dataset (exact-dedup
hashes, LSH band hashes, bucket tables, shingle sets). ``Column`` is a 1-D or 2-D numpy array that
is either in memory or in a raw file; the dedup code reads it only through ``block`` (rows
``lo:hi``, copied) and ``take`` (some rows), so the same code runs, with the same results, whether
the data fit the budget or not. A file is read through ``pread``, never a memory map, so what it
holds never counts in the process's resident memory (the page cache is the kernel's).

``Ragged`` holds one variable-length uint64 array per row (a sample's shingle set) the same way.
``Runs`` holds sorted runs of (int64 key, payload) rows the same way and reads them back merged in
key order, one key window at a time: what a keyed stage produces in some other order (a dedup's
drops found partition by partition, one band's bucket ids found hash part by hash part, drops
counted by twin) comes back in key order without an array of all of them in memory.
``Spill`` is the budget and the directory an operator may write its files to.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "BLOCK_ROWS",
    "DEFAULT_BUDGET_MB",
    "Column",
    "ColumnWriter",
    "Ragged",
    "Runs",
    "Spill",
    "as_column",
    "ragged_offsets",
]

DEFAULT_BUDGET_MB = 256
BLOCK_ROWS = 1 << 16  # rows per block when a column is read through (21 bands: 11 MB)


@dataclass
class Spill:
    """How many bytes of keys an operator may keep in memory, and where its files go."""

    budget: int = DEFAULT_BUDGET_MB << 20
    directory: Path | None = None
    _names: Iterator[int] = field(default_factory=itertools.count, repr=False)

    def fits(self, nbytes: int, share: float = 1.0) -> bool:
        return nbytes <= self.budget * share

    def path(self, stem: str) -> Path:
        """A new file path in the spill directory (a temporary one when none was given)."""
        if self.directory is None:  # a temporary folder, removed with this object
            self.directory = Path(tempfile.mkdtemp(prefix="sftforge-spill-"))
            weakref.finalize(self, shutil.rmtree, self.directory, True)
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{stem}-{next(self._names)}.bin"


class Column:
    """A (rows, ...) array in memory or in a raw C-order file of ``dtype`` and ``shape``."""

    def __init__(
        self,
        data: np.ndarray | None = None,
        *,
        path: Path | None = None,
        dtype: np.dtype | None = None,
        shape: tuple[int, ...] = (),
    ) -> None:
        self.data = data
        self.path = path
        if data is not None:
            self.dtype, self.shape = data.dtype, tuple(data.shape)
        else:
            assert path is not None and dtype is not None
            self.dtype, self.shape = np.dtype(dtype), shape
        self._row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd: int | None = None

    @property
    def spilled(self) -> bool:
        return self.data is None

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, offset: int, nbytes: int) -> bytes:
        if self._fd is None:
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDONLY)
        buf = os.pread(self._fd, nbytes, offset)
        while len(buf) < nbytes:  # pread may return less than asked on large reads
            buf += os.pread(self._fd, nbytes - len(buf), offset + len(buf))
        return buf

    def block(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` (a copy when read from the file)."""
        if self.data is not None:
            return self.data[lo:hi]
        hi = min(hi, self.shape[0])
        if hi <= lo:
            return np.zeros((0, *self.shape[1:]), dtype=self.dtype)
        raw = self._read(lo * self._row, (hi - lo) * self._row)
        return np.frombuffer(raw, dtype=self.dtype).reshape(hi - lo, *self.shape[1:])

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        rows = rows or BLOCK_ROWS
        for lo in range(0, self.shape[0], rows):
            yield lo, self.block(lo, lo + rows)

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows at ``index`` (any order; ascending indices from a file are read a block of
        rows at a time, not a row per read)."""
        if self.data is not None:
            return self.data[index]
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        if len(index) > 1 and bool((index[1:] >= index[:-1]).all()):
            k = 0
            while k < len(index):
                lo = int(index[k])
                end = int(np.searchsorted(index, lo + BLOCK_ROWS, side="left"))
                block = self.block(lo, int(index[end - 1]) + 1)
                out[k:end] = block[index[k:end] - lo]
                k = end
            return out
        for k, i in enumerate(index.tolist()):
            out[k] = self.block(i, i + 1)[0]
        return out

    def whole(self) -> np.ndarray:
        """All rows in memory (only for columns known to fit)."""
        return self.data if self.data is not None else self.block(0, self.shape[0])

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # a column read from its file holds the file open until then
        self.close()


class ColumnWriter:
    """Builds a ``Column`` from row blocks appended in order; in memory until the rows pass
    ``limit`` bytes, then everything goes on in a file (``spill.path``)."""

    def __init__(self, spill: Spill, stem: str, limit: int) -> None:
        self.spill, self.stem, self.limit = spill, stem, limit
        self.parts: list[np.ndarray] = []
        self.nbytes = 0
        self.rows = 0
        self.fh: BinaryIO | None = None
        self.path: Path | None = None
        self.tail: tuple[int, ...] = ()
        self.dtype: np.dtype | None = None

    @property
    def in_memory(self) -> int:
        """Bytes this column holds in memory now."""
        return 0 if self.fh is not None else self.nbytes

    def to_file(self) -> None:
        """Move what is in memory to the file; later rows go there too."""
        if self.fh is None:
            self.path = self.spill.path(self.stem)
            self.fh = self.path.open("wb")
            for p in self.parts:
                self.fh.write(p.tobytes())
            self.parts = []

    def append(self, part: np.ndarray) -> None:
        part = np.ascontiguousarray(part)
        self.dtype, self.tail = part.dtype, tuple(part.shape[1:])
        self.rows += len(part)
        self.nbytes += part.nbytes
        if self.fh is None and self.nbytes > self.limit:
            self.to_file()
        if self.fh is not None:
            self.fh.write(part.tobytes())
        else:
            self.parts.append(part)

    def finish(self, dtype: np.dtype | None = None, tail: tuple[int, ...] = ()) -> Column:
        dtype = self.dtype if self.dtype is not None else np.dtype(dtype or np.int64)
        tail = self.tail if self.dtype is not None else tail
        if self.fh is not None:
            self.fh.close()
            return Column(path=self.path, dtype=dtype, shape=(self.rows, *tail))
        if not self.parts:
            return Column(np.zeros((0, *tail), dtype=dtype))
        data = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
        self.parts = []
        return Column(data)


class Ragged:
    """One uint64 array per row: ``values`` (a ``Column``) cut by ``offsets`` (n + 1 int64, an
    array or a ``Column``: in a file past the budget, read two at a time)."""

    def __init__(self, values: Column, offsets: np.ndarray | Column) -> None:
        self.values, self.offsets = values, offsets

    def get(self, i: int) -> np.ndarray:
        if isinstance(self.offsets, Column):
            lo, hi = self.offsets.block(i, i + 2).tolist()
        else:
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.values.block(lo, hi)


def ragged_offsets(sizes: Column, spill: Spill, limit: int) -> Column:
    """The n + 1 offsets of the rows of a ragged column whose row sizes are ``sizes``, summed a
    block at a time into a ``Column`` (in a file past ``limit`` bytes)."""
    writer = ColumnWriter(spill, "offsets", limit)
    writer.append(np.zeros(1, dtype=np.int64))
    total = 0
    for _, block in sizes.blocks():
        sums = np.cumsum(block, dtype=np.int64)
        sums += total
        if len(sums):
            total = int(sums[-1])
        writer.append(sums)
    return writer.finish()


class Runs:
    """Sorted runs of rows keyed by int64 keys in ``[0, end)``, read back merged in key order.

    ``add`` takes one run (keys ascending, with payload columns of the same length); the rows
    go to one ``ColumnWriter`` per column (in memory up to ``limit`` bytes together, then in
    files). ``windows`` yields, for each key window ``[lo, lo + window)`` in order, the rows
    of every run whose keys fall in it, sorted by key (stable: equal keys in run order). What
    stays in memory is a window's rows and, per run, where each window starts: a run costs
    8 bytes a window."""

    def __init__(self, spill: Spill, stem: str, limit: int, end: int, window: int = 0) -> None:
        self.spill, self.stem, self.limit = spill, stem, limit
        self.window = max(1, window or BLOCK_ROWS)
        self.edges = np.arange(0, max(end, 0) + self.window, self.window, dtype=np.int64)
        self.writers: list[ColumnWriter] = []
        self.cuts: list[np.ndarray] = []  # per run: where each window starts in the columns
        self.rows = 0

    def add(self, keys: np.ndarray, *payload: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        if not self.writers:
            self.writers = [
                ColumnWriter(self.spill, f"{self.stem}{k}", self.limit)
                for k in range(1 + len(payload))
            ]
        self.cuts.append(np.searchsorted(keys, self.edges).astype(np.int64) + self.rows)
        for writer, col in zip(self.writers, (keys, *payload), strict=True):
            writer.append(col)
        # the writers share the limit: past it, every column goes on in its file
        if sum(w.in_memory for w in self.writers) > self.limit:
            for w in self.writers:
                w.to_file()
        self.rows += len(keys)

    def windows(self) -> Iterator[tuple[int, np.ndarray, list[np.ndarray]]]:
        """(window start, keys, payload columns) for every key window in order (empty ones
        too), rows sorted by key."""
        if not self.writers:
            return
        cols = [w.finish() for w in self.writers]
        self.writers = []
        try:
            for w in range(len(self.edges) - 1):
                spans = [(int(c[w]), int(c[w + 1])) for c in self.cuts]
                spans = [(a, b) for a, b in spans if b > a] or [(0, 0)]
                got = [np.concatenate([col.block(a, b) for a, b in spans]) for col in cols]
                order = np.argsort(got[0], kind="stable") if len(spans) > 1 else None
                if order is not None:
                    got = [g[order] for g in got]
                yield int(self.edges[w]), got[0], got[1:]
        finally:
            for col in cols:
                col.close()
                if col.path is not None:
                    col.path.unlink(missing_ok=True)


def as_column(value: Column | np.ndarray) -> Column:
    """A key column as a ``Column`` (numpy arrays from ``concat_keys`` are wrapped)."""
    return value if isinstance(value, Column) else Column(np.asarray(value))
