"""Writing tokenized rows: Parquet for trainers and a JSONL debug view for people.

Parquet columns (readable with ``datasets.load_dataset("parquet", ...)``):

    unpacked  id: string, input_ids: list<int32>, labels: list<int32>, attention_mask: list<int8>
    packed    ids: list<string>, input_ids, labels, attention_mask,
              position_ids: list<int32>, seq_lens: list<int32>

``labels`` are unshifted (the trainer shifts) with -100 where no loss is taken. Files are written
to a temporary name and renamed, so a crash never leaves a half-written file behind.

The debug JSONL has one object per row: ``id``, ``n_tokens``, ``n_trained``, the decoded ``text``
and ``marked``, the same text with every trained stretch wrapped in ⟦ ⟧.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence, Sized
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .encode import IGNORE_INDEX
from .pack import PackedRow
from .tokenize import TokenizedRow

__all__ = [
    "TRAIN_CLOSE",
    "TRAIN_OPEN",
    "ParquetRowWriter",
    "marked_text",
    "write_debug_jsonl",
    "write_parquet",
]

TRAIN_OPEN, TRAIN_CLOSE = "⟦", "⟧"
_INTS = pa.list_(pa.int32())


class ParquetRowWriter:
    """Rows to one Parquet file as they are made, a row group at a time, so memory holds one group
    whatever the number of rows. Written under a temporary name and renamed by :meth:`close`;
    :meth:`abort` (or an exception inside ``with``) removes it, leaving nothing behind.

    A group is cut at ``group_rows`` rows or ``group_tokens`` tokens, whichever comes first."""

    def __init__(
        self,
        path: str | Path,
        *,
        packed: bool = False,
        group_rows: int = 8192,
        group_tokens: int = 4_000_000,
    ) -> None:
        self.path = Path(path)
        self.packed = packed
        self.group_rows = group_rows
        self.group_tokens = group_tokens
        self.count = 0
        self._rows: list[Any] = []
        self._tokens = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._writer = pq.ParquetWriter(self._tmp, _schema(packed))

    def add(self, row: TokenizedRow | PackedRow) -> None:
        self._rows.append(row)
        self._tokens += len(row.input_ids)
        self.count += 1
        if len(self._rows) >= self.group_rows or self._tokens >= self.group_tokens:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(_table(self._rows, self.packed))
        self._rows, self._tokens = [], 0

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._rows = []
        self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ParquetRowWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _schema(packed: bool) -> pa.Schema:
    first = [("ids", pa.list_(pa.string()))] if packed else [("id", pa.string())]
    rest = [("input_ids", _INTS), ("labels", _INTS), ("attention_mask", pa.list_(pa.int8()))]
    more = [("position_ids", _INTS), ("seq_lens", _INTS)] if packed else []
    return pa.schema(first + rest + more)


def _table(rows: Sequence[Any], packed: bool) -> pa.Table:
    # every column is built over numpy buffers (Array.from_buffers): pa.array on Python or numpy
    # values imports pandas to check for its types (~0.5 s of CPU and ~40 MB at start-up)
    columns: list[pa.Array] = []
    if packed:
        counts = _offsets([r.ids for r in rows])
        flat = [i for r in rows for i in r.ids]
        columns.append(pa.ListArray.from_arrays(_primitive(pa.int32(), counts), _strings(flat)))
    else:
        columns.append(_strings([r.id for r in rows]))
    offsets, input_ids = _int_lists([r.input_ids for r in rows])
    # every token trained (TRL's default): the labels column is the ids column, not built again
    same = all(r.labels == r.input_ids for r in rows)
    columns += [input_ids, input_ids if same else _int_lists([r.labels for r in rows])[1]]
    # every row attends to all its tokens (packed rows are kept apart by position_ids/seq_lens)
    ones = _primitive(pa.int8(), np.ones(int(offsets[-1]), np.int8))
    columns.append(pa.ListArray.from_arrays(_primitive(pa.int32(), offsets), ones))
    if packed:
        columns.append(_int_lists([r.position_ids for r in rows])[1])
        columns.append(_int_lists([r.seq_lens for r in rows])[1])
    return pa.Table.from_arrays(columns, schema=_schema(packed))


def _primitive(kind: pa.DataType, values: np.ndarray) -> pa.Array:
    """An Arrow array over a numpy array's buffer (no nulls, no copy)."""
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _offsets(lists: Sequence[Sized]) -> np.ndarray:
    """Arrow list offsets: 0, then the running total of the lengths."""
    offsets = np.zeros(len(lists) + 1, np.int32)
    np.cumsum(np.fromiter(map(len, lists), np.int32, len(lists)), out=offsets[1:])
    return offsets


def _strings(texts: Sequence[str]) -> pa.Array:
    """A string array: the UTF-8 bytes joined, with their offsets."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = _offsets(encoded)
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def _int_lists(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, pa.ListArray]:
    """(offsets, list<int32> array) of int lists: flattened by ``np.fromiter`` over the chained
    lists with the count known (one C loop, about twice as fast as ``array.extend`` per list) and
    handed to Arrow as one buffer, many times faster than ``pa.array`` on the nested lists."""
    offsets = _offsets(lists)
    flat = np.fromiter(chain.from_iterable(lists), np.int32, int(offsets[-1]))
    values = _primitive(pa.int32(), flat)
    return offsets, pa.ListArray.from_arrays(_primitive(pa.int32(), offsets), values)


def write_parquet(rows: Iterable[TokenizedRow] | Iterable[PackedRow], path: str | Path) -> Path:
    """Write rows (all unpacked or all packed) to one Parquet file; returns the path."""
    it: Iterator[TokenizedRow | PackedRow] = iter(rows)
    first = next(it, None)
    with ParquetRowWriter(path, packed=isinstance(first, PackedRow)) as writer:
        if first is not None:
            writer.add(first)
        for row in it:
            writer.add(row)
    return writer.path


def segments(ids: Sequence[int], labels: Sequence[int]) -> list[tuple[list[int], bool]]:
    """Consecutive tokens grouped by whether they are trained."""
    groups: list[tuple[list[int], bool]] = []
    for tok, lab in zip(ids, labels, strict=True):
        trained = lab != IGNORE_INDEX
        if groups and groups[-1][1] == trained:
            groups[-1][0].append(tok)
        else:
            groups.append(([tok], trained))
    return groups


def marked_text(tokenizer: Any, ids: Sequence[int], labels: Sequence[int]) -> str:
    """The decoded row with trained stretches in ⟦ ⟧.

    Stretches are cut from decodes of whole prefixes (``decode(ids[:k])``), not decoded on their
    own, so SentencePiece's leading-space rule and multi-token characters come out as in the full
    decode; a stretch whose prefix decode is not a prefix of the next one is decoded alone."""
    parts: list[str] = []
    done, cut = "", 0
    for group, trained in segments(ids, labels):
        cut += len(group)
        whole = tokenizer.decode(list(ids[:cut]), skip_special_tokens=False)
        if whole.startswith(done):
            text, done = whole[len(done) :], whole
        else:
            text = tokenizer.decode(group, skip_special_tokens=False)
            done += text
        parts.append(f"{TRAIN_OPEN}{text}{TRAIN_CLOSE}" if trained else text)
    return "".join(parts)


def write_debug_jsonl(
    rows: Iterable[TokenizedRow | PackedRow], tokenizer: Any, path: str | Path
) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as fh:
        for r in rows:
            rid: Any = r.ids if isinstance(r, PackedRow) else r.id
            obj = {
                "id": rid,
                "n_tokens": len(r.input_ids),
                "n_trained": sum(1 for x in r.labels if x != IGNORE_INDEX),
                "text": tokenizer.decode(r.input_ids, skip_special_tokens=False),
                "marked": marked_text(tokenizer, r.input_ids, r.labels),
            }
            fh.write(orjson.dumps(obj) + b"\n")
    os.replace(tmp, out)
    return out
