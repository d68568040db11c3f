"""Pieces: an input cut into runs of records, for code that decodes them elsewhere (``convert``'s
helper processes) or in bulk.

A container reader can hand over what it has not read yet as pieces instead of ``RawRecord``s:

- ``Lines``: whole JSONL lines, not parsed yet, with the number of the first line;
- ``Window``: whole elements of a JSON array, cut at the separator the file uses between
  elements (``},\\n  {``), not parsed yet. The cut is a guess until ``[`` + the bytes + ``]``
  parses into exactly ``count`` values; when it does not, the consumer hands the window back
  (``PieceStream.rollback``) and the reader reads that part again element by element;
- ``Records``: records already split (and parsed) by the reader: the head read for format
  detection, bad records, elements that needed a closer look, other containers.

Decoded as the reader would (``jsonl.lines_records``; ``Window.values`` with ``window_starts``
for the lines), a piece gives exactly the records the reader would have yielded for those bytes:
the same values, lines and errors, wherever it is decoded (tests/io/test_io_pieces.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from .dupkeys import hides_duplicate_keys
from .record import RawRecord

__all__ = [
    "Lines",
    "Piece",
    "PieceStream",
    "Records",
    "Window",
    "group_records",
    "window_starts",
]


@dataclass(slots=True)
class Lines:
    """JSONL lines ``data`` (joined by ``\\n``, no final newline) starting at line ``line``;
    ``count`` of them (-1: not counted)."""

    data: bytes
    line: int
    count: int = -1

    def __len__(self) -> int:
        return self.count if self.count >= 0 else self.data.count(b"\n") + 1


@dataclass(slots=True)
class Window:
    """``count`` JSON array elements in ``data``, the first starting at line ``line``: element
    ``j > 0`` starts right after the ``j``-th occurrence of ``sep`` (minus its last byte)."""

    data: bytes
    line: int
    sep: bytes
    count: int
    key: int = field(default=0, compare=False)  # the reader's handle for settle/rollback

    def __len__(self) -> int:
        return self.count

    def values(self) -> list[Any] | None:
        """The elements, or None when the cut was wrong (then the reader must read them)."""
        try:
            values = orjson.loads(b"".join((b"[", self.data, b"]")))
        except orjson.JSONDecodeError:
            return None
        if len(values) != self.count or hides_duplicate_keys(self.data, values):
            return None  # read one by one: a record with a repeated key is rejected alone
        return values


def window_starts(data: bytes, sep: bytes, count: int) -> list[int]:
    """Byte offsets of the ``count`` elements of a window's ``data``."""
    step = len(sep) - 1
    starts = [0]
    p = 0
    find = data.find
    while len(starts) < count:
        i = find(sep, p)
        starts.append(i + step)
        p = i + step
    return starts


@dataclass(slots=True)
class Records:
    """Records the reader has split already (values, or errors)."""

    records: list[RawRecord]

    def __len__(self) -> int:
        return len(self.records)


Piece = Lines | Window | Records


class PieceStream:
    """An iterator of pieces; ``settle``/``rollback`` report a ``Window``'s fate to its reader
    (verified, or to be read again), in the order the windows were handed out."""

    def __init__(
        self,
        pieces: Iterator[Piece],
        settle: Callable[[Window], None] | None = None,
        rollback: Callable[[Window], None] | None = None,
    ) -> None:
        self._it = pieces
        self._settle = settle
        self._rollback = rollback

    def __iter__(self) -> Iterator[Piece]:
        return self

    def __next__(self) -> Piece:
        return next(self._it)

    def after(self, piece: Piece) -> PieceStream:
        """This stream with ``piece`` handed out first."""
        return _Prefixed(piece, self)

    def settle(self, window: Window) -> None:
        if self._settle is not None:
            self._settle(window)

    def rollback(self, window: Window) -> None:
        if self._rollback is None:
            raise RuntimeError("this reader hands out no windows to roll back")
        self._rollback(window)


class _Prefixed(PieceStream):
    def __init__(self, first: Piece, rest: PieceStream) -> None:
        super().__init__(rest, rest.settle, rest.rollback)
        self._first: Piece | None = first

    def __next__(self) -> Piece:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._it)


def group_records(records: Iterator[RawRecord], size: int = 1000) -> Iterator[Records]:
    """Records of any container in pieces of ``size``."""
    batch: list[RawRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield Records(batch)
            batch = []
    if batch:
        yield Records(batch)
