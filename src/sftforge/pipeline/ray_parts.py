"""The files of the Ray executor's dedup parts: one file per chunk holding every part's slice.

A scatter task writes one file per key base chunk: the parts' offsets (int64) first, then each
part's pickled slice, so a part's task reads only its slice of each chunk's file (``read_part``)
and a stage makes ``chunks`` files, not ``chunks × parts``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..ops.base import Keys
from .shards import atomic_write_bytes
from .worker import keys_path

__all__ = ["chunk_keys", "read_part", "write_parts"]

_HEADER = np.dtype("<i8")


def write_parts(path: Path, blobs: list[bytes]) -> None:
    """One file of ``len(blobs)`` parts: their offsets (int64), then the parts."""
    offsets = np.zeros(len(blobs) + 1, dtype=_HEADER)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    offsets += offsets.itemsize * len(offsets)
    atomic_write_bytes(path, offsets.tobytes() + b"".join(blobs))


def read_part(path: Path, part: int) -> Any:
    with path.open("rb") as fh:
        fh.seek(part * _HEADER.itemsize)
        lo, hi = np.frombuffer(fh.read(2 * _HEADER.itemsize), dtype=_HEADER).tolist()
        fh.seek(lo)
        return pickle.loads(fh.read(hi - lo))


def chunk_keys(bdir: str, chunk: int, step: int, gone: np.ndarray) -> tuple[Keys, np.ndarray]:
    """A key base chunk's keys and which of its rows reach the stage (earlier drops left out)."""
    part = pickle.loads(keys_path(Path(bdir), chunk, step).read_bytes())
    alive = np.ones(int(part["rows"]), dtype=bool)
    alive[gone] = False
    return part["keys"], alive
