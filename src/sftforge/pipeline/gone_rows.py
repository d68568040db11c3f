"""The key base rows that keyed stages before this one dropped, read a chunk's worth at a time.

A keyed stage's input is its key base's output less what the keyed stages between them dropped
(each wrote its dropped key base rows, ascending, to ``dropped.jsonl``). Holding those rows, or a
byte per key base row saying which are left, grows with the data; ``GoneRows`` instead reads the
files along with the chunks (``upto``), so the executor walks the key base chunk by chunk and
knows each chunk's rows that reach the stage (``live_rows``) without an array of all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["GoneRows", "live_rows"]

_READ = 1 << 20  # bytes of lines read at a time


class _Source:
    """One ascending stream of rows: a ``dropped.jsonl`` file, or an array."""

    def __init__(self, path: Path | None = None, rows: np.ndarray | None = None) -> None:
        self.fh: BinaryIO | None = path.open("rb") if path is not None else None
        self.buf = np.zeros(0, dtype=np.int64) if rows is None else rows.astype(np.int64)

    def upto(self, hi: int) -> np.ndarray:
        out = []
        while True:
            k = int(np.searchsorted(self.buf, hi))
            if k < len(self.buf) or self.fh is None:
                out.append(self.buf[:k])
                self.buf = self.buf[k:]
                break
            out.append(self.buf)
            lines = self.fh.readlines(_READ)
            if not lines:
                self.close()
                self.buf = np.zeros(0, dtype=np.int64)
                continue
            self.buf = np.array(lines, dtype=np.int64)
        return out[0] if len(out) == 1 else np.concatenate(out)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


class GoneRows:
    """Ascending, unique dropped rows from the ``dropped.jsonl`` files ``paths`` (each
    ascending) and/or the array ``rows``; ``upto(hi)`` gives those below ``hi`` not given yet."""

    def __init__(self, paths: Sequence[Path] = (), rows: np.ndarray | None = None) -> None:
        self.sources = [_Source(path=p) for p in paths]
        if rows is not None:
            self.sources.append(_Source(rows=np.asarray(rows)))

    def upto(self, hi: int) -> np.ndarray:
        parts = [s.upto(hi) for s in self.sources]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        if len(parts) == 1:
            return parts[0]
        return np.unique(np.concatenate(parts))

    def close(self) -> None:
        for s in self.sources:
            s.close()

    def __enter__(self) -> GoneRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def live_rows(lo: int, hi: int, gone: np.ndarray) -> np.ndarray:
    """Rows ``lo:hi`` less ``gone`` (ascending rows in that range), ascending."""
    keep = np.ones(hi - lo, dtype=bool)
    keep[gone - lo] = False
    return np.flatnonzero(keep) + lo
