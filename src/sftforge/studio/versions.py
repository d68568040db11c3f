"""Immutable dataset versions: one Parquet file per version, content-addressed, fixed row schema.

A version id is the sha256 of the parent id and every row's content (16 hex characters), so the
same rows on the same parent are the same version. A dataset's first version has no parent: the
dataset's id stands in for it, so the same file imported into two datasets makes two versions
(one ``versions`` row each), not one id claimed by both. ``VersionWriter.content_id`` is the hash of
the rows alone (what a first version's id was before), the same for the same rows anywhere. Each row keeps its ``sample`` losslessly
(``Sample.to_json()``), its lineage (source and line, what made it, model and prompt, who edited
it and when), its review state, and derived columns for the browser; ``derive_columns`` is the one
place that computes the derived ones.

Beside ``<id>.parquet`` (the version) each version has ``<id>.browse.arrow``: the same rows
without ``sample``, as an uncompressed Arrow IPC file, memory-mapped by the browser so paging,
sorting and searching a million rows touch only the pages they need (``browse.py``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..sample import Sample
from .write_behind import WriteBehind

__all__ = [
    "BROWSE_SCHEMA",
    "LINEAGE_FIELDS",
    "PARQUET_SCHEMA",
    "ROW_GROUP",
    "SCHEMA",
    "STATE_FIELDS",
    "VersionWriter",
    "arrow_column",
    "browse_path",
    "derive_columns",
    "iter_batches",
    "iter_rows",
    "read_rows",
    "row_from_sample",
    "rows_batch",
    "sample_of",
    "samples_batch",
]

ROW_GROUP = 8192
FIRST_CHARS = 200

SCHEMA = pa.schema(
    [
        ("row_id", pa.string()),
        ("sample", pa.string()),
        # lineage
        ("src", pa.string()),
        ("src_line", pa.int64()),
        ("made_by", pa.string()),
        ("model", pa.string()),
        ("prompt", pa.string()),
        ("edited_by", pa.string()),
        ("edited_at", pa.string()),
        # derived for the browser (derive_columns)
        ("first_user", pa.string()),
        ("first_assistant", pa.string()),
        ("n_turns", pa.int32()),
        ("n_user", pa.int32()),
        ("n_assistant", pa.int32()),
        ("n_tool", pa.int32()),
        ("has_system", pa.bool_()),
        ("chars", pa.int64()),
        ("tokens_est", pa.int64()),
        # review state (changed by edits)
        ("tags", pa.list_(pa.string())),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("human_verified", pa.bool_()),
        ("score", pa.float64()),
        ("search", pa.string()),
    ]
)
BROWSE_SCHEMA = pa.schema([f for f in SCHEMA if f.name != "sample"])
# the columns an edit may change besides the sample itself
STATE_FIELDS = ("tags", "status", "reason", "human_verified", "score")
# who or what made a row and who last edited it (the diff of a changed row shows these too)
LINEAGE_FIELDS = ("src", "src_line", "made_by", "model", "prompt", "edited_by", "edited_at")


_DERIVED = ("first_user", "first_assistant", "n_turns", "n_user", "n_assistant", "n_tool",
            "has_system", "chars", "tokens_est")  # fmt: skip
# the Parquet file holds the row's content (what the version id hashes): the derived columns
# and the search text follow from the sample and are kept once, in the browse file (writing
# them into the Parquet file too, compressed, was about a third of an import's writing; a
# version written before 2026-12-07 has them in both, and is read as it is)
PARQUET_SCHEMA = pa.schema([f for f in SCHEMA if f.name not in (*_DERIVED, "search")])


def _derive(sample: Sample) -> tuple[Any, ...]:
    """The ``_DERIVED`` values and, last, the search text: see ``derive_columns``."""
    msgs = sample.messages
    if len(msgs) == 2 and sample.rejected is None:  # the common shape: one question, one answer
        u, a = msgs
        if (
            u.role == "user"
            and a.role == "assistant"
            and not (u.reasoning or a.reasoning or u.tool_calls or a.tool_calls)
        ):
            uc, ac = u.content, a.content
            text = f"{uc}\n{ac}"
            n = len(text)
            # (inlined ``_derived``: this is the import's hottest line of Python)
            wide = 0 if text.isascii() else (len(text.encode("utf-8")) - n) // 2
            return (uc[:FIRST_CHARS], ac[:FIRST_CHARS], 2, 1, 1, 0, False, n - 1,
                    wide + max(n - wide, 0) // 4, text.lower())  # fmt: skip
    first_user = first_assistant = None
    n_user = n_assistant = n_tool = 0
    parts: list[str] = []
    for m in msgs:
        role = m.role
        if role == "user":
            n_user += 1
            if first_user is None:
                first_user = m.content[:FIRST_CHARS]
        elif role == "assistant":
            n_assistant += 1
            if first_assistant is None:
                first_assistant = m.content[:FIRST_CHARS]
        elif role == "tool":
            n_tool += 1
        if m.reasoning:
            parts.append(m.reasoning)
        parts.append(m.content)
        if m.tool_calls:
            parts.extend(orjson.dumps(c.to_dict()).decode("utf-8") for c in m.tool_calls)
    if sample.rejected is not None:
        parts.append(sample.rejected.content)
    return _derived(
        first_user or "",
        first_assistant or "",
        len(msgs),
        n_user,
        n_assistant,
        n_tool,
        bool(msgs) and msgs[0].role == "system",
        "\n".join(parts),
        len(parts),
    )


def _derived(
    first_user: str,
    first_assistant: str,
    n_turns: int,
    n_user: int,
    n_assistant: int,
    n_tool: int,
    has_system: bool,
    text: str,
    n_parts: int,
) -> tuple[Any, ...]:
    """``_derive``'s answer from the counts and ``text``, its ``n_parts`` parts joined by
    newlines (the separators are not counted in ``chars``)."""
    chars = len(text) - n_parts + 1 if n_parts else 0
    # a cheap estimate: a CJK character (3 UTF-8 bytes) is about a token, other text ~4 chars
    wide = 0 if text.isascii() else (len(text.encode("utf-8")) - len(text)) // 2
    return (
        first_user,
        first_assistant,
        n_turns,
        n_user,
        n_assistant,
        n_tool,
        has_system,
        chars,
        wide + max(len(text) - wide, 0) // 4,
        text.lower(),
    )


def derive_columns(sample: Sample) -> dict[str, Any]:
    """The browser's columns of ``sample``: first turns (200 characters), role counts, length in
    characters, a token estimate, and the lower-cased text searched by substring (so Chinese
    works: no word splitting)."""
    return dict(zip((*_DERIVED, "search"), _derive(sample), strict=True))


def _meta_state(meta: Mapping[str, Any]) -> tuple[Any, ...]:
    """Review state (``STATE_FIELDS`` order) a sample may already carry in ``meta`` (a generated
    or judged sample)."""
    if not meta:
        return ([], "", None, False, None)
    tags = meta.get("tags")
    score = meta.get("score")
    return (
        [str(t) for t in tags] if isinstance(tags, list) else [],
        "",
        None,
        meta.get("human_verified") is True,
        float(score) if isinstance(score, int | float) and score is not True else None,
    )


# the keys of ``meta`` that ``_meta_state`` and ``_llm_lineage`` read (an Alpaca record's meta
# holds its ``prompt_input``: most imported samples have a meta without them)
_META_KEYS = frozenset(("tags", "score", "human_verified", "llm"))


def _llm_lineage(meta: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(model, prompt) of a generated sample (``meta.llm``), else (None, None)."""
    llm = meta.get("llm") if meta else None
    if not isinstance(llm, dict):
        return None, None
    model, prompt = llm.get("model"), llm.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        prompt = orjson.dumps(prompt).decode("utf-8")
    return (str(model) if model is not None else None), prompt


def samples_batch(
    samples: Sequence[Sample],
    row_ids: Sequence[str],
    lines: Sequence[int],
    *,
    src: str,
    made_by: str,
) -> pa.RecordBatch:
    """New rows (an import's piece) as one record batch in ``SCHEMA``, built column by column:
    lineage from the arguments and each sample's ``meta.llm``, review state from its ``meta``,
    the derived columns from ``_derive``. ``sample`` is ``Sample.to_json()``'s UTF-8
    (each text serialised once for a plain sample; a deferred content id is computed for the
    JSON and not stored in the sample, so ``row_ids`` need not read it).

    Column by column, not row by row: a row tuple per sample and its regrouping into columns
    were a third of an import's row building; a column that holds one value in every row
    (``src``, ``made_by``, the review state of samples without ``meta``, the role counts of a
    piece of one shape) is made from that value (``_repeated``)."""
    n = len(samples)
    if not n:  # (``arrow_column`` of no values would go to ``pa.array``: pandas)
        return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in SCHEMA], schema=SCHEMA)
    sample_json = [s.to_json() for s in samples]
    metas = [s.meta for s in samples]
    model: Any
    prompt: Any
    if any(not _META_KEYS.isdisjoint(m) for m in metas if m):
        model, prompt = zip(*map(_llm_lineage, metas), strict=True)
        state: list[Any] = list(zip(*map(_meta_state, metas), strict=True))
    else:  # what ``_meta_state`` and ``_llm_lineage`` say of a meta without their keys
        model = prompt = _SAME_NONE
        state = [_Same([]), _Same(""), _SAME_NONE, _Same(False), _SAME_NONE]
    derived: list[Any] = list(zip(*map(_derive, samples), strict=True))
    for k in _DERIVED_COUNTS:  # the role counts and has_system of a piece of one shape
        col = derived[k]
        if col.count(col[0]) == n:  # (ints and bools of ``_derive``: equal is the same)
            derived[k] = _Same(col[0])
    columns = (
        row_ids, sample_json, _Same(src), lines, _Same(made_by), model, prompt, _SAME_NONE,
        _SAME_NONE, *derived[:-1], *state, derived[-1],
    )  # fmt: skip
    return pa.RecordBatch.from_arrays(
        [
            _repeated(col.value, n, f.type) if type(col) is _Same else arrow_column(col, f.type)
            for col, f in zip(columns, SCHEMA, strict=True)
        ],
        schema=SCHEMA,
    )


class _Same:
    """A column of one value in every row (``samples_batch``), built by ``_repeated``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_SAME_NONE = _Same(None)
# ``_derive``'s n_turns, n_user, n_assistant, n_tool, has_system
_DERIVED_COUNTS = (2, 3, 4, 5, 6)


def _repeated(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    """``arrow_column((value,) * n, type_)``, buffer for buffer, without a pass over the rows:
    a batch has about a dozen such columns (its source, lineage not filled in, review state of
    samples without meta, role counts of one shape), and building each from a tuple of ``n``
    values was a tenth of an import's row building. Any other value: ``arrow_column``."""
    if value is None and not pa.types.is_list(type_):
        offsets = [pa.py_buffer(bytes(4 * (n + 1)))] if pa.types.is_string(type_) else []
        data = pa.py_buffer(b"") if offsets else pa.py_buffer(bytes((n * type_.bit_width + 7) // 8))
        validity = pa.py_buffer(bytes((n + 7) // 8))
        return pa.Array.from_buffers(type_, n, [validity, *offsets, data], null_count=n)
    if type(value) is str and pa.types.is_string(type_):
        data = value.encode("utf-8")
        if len(data) * n < 2**31:  # (else: ``arrow_column``'s own error)
            offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
            buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
            return pa.Array.from_buffers(type_, n, buffers, null_count=0)
    if type(value) is bool and pa.types.is_boolean(type_):
        bits = np.packbits(np.full(n, value, dtype=np.bool_), bitorder="little")
        return pa.Array.from_buffers(type_, n, [None, pa.py_buffer(bits)], null_count=0)
    if type(value) is int and pa.types.is_integer(type_):
        dtype = _numpy_dtype(type_)
        low, high = _int_range(dtype)
        if low <= value <= high:
            data = pa.py_buffer(np.full(n, value, dtype=dtype))
            return pa.Array.from_buffers(type_, n, [None, data], null_count=0)
    if value == [] and pa.types.is_list(type_):
        offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
        return pa.Array.from_buffers(
            type_, n, [None, offsets], null_count=0, children=[_string_array([])]
        )
    return arrow_column((value,) * n, type_)


def row_from_sample(
    sample: Sample, row_id: str, *, src: str, src_line: int, made_by: str
) -> dict[str, Any]:
    """A new row as a dict by column name: one row of ``samples_batch``, without Arrow."""
    derived = _derive(sample)
    model, prompt = _llm_lineage(sample.meta)
    values = (
        row_id, sample.to_json().decode("utf-8"), src, src_line, made_by, model, prompt, None,
        None, *derived[:-1], *_meta_state(sample.meta), derived[-1],
    )  # fmt: skip
    return dict(zip(_NAMES, values, strict=True))


def sample_of(row: Mapping[str, Any]) -> Sample:
    return Sample.from_json(row["sample"])


# what makes a row's content: id, sample, lineage and review state (derived columns follow
# from the sample); hashed column by column, one row group at a time
_HASHED = ("row_id", "sample", *LINEAGE_FIELDS, *STATE_FIELDS)
_NAMES = tuple(SCHEMA.names)

# the version id does not depend on how rows were grouped into batches: each hashed column feeds
# its own hashers with its values' bytes and, separately, their lengths and validity, as streams


def _valid_bytes(arr: pa.Array) -> np.ndarray:
    """One byte per value, 1 where it is not null (read from the validity bitmap: Arrow's own
    ``to_numpy`` of a boolean array would import pandas)."""
    n, bitmap = len(arr), arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(n, dtype=np.uint8)
    bits = np.frombuffer(bitmap, dtype=np.uint8)
    return np.unpackbits(bits, count=arr.offset + n, bitorder="little")[arr.offset :]


def _string_streams(arr: pa.Array) -> list[Any]:
    """[the concatenated UTF-8 of the values, their lengths, their validity] of a string array."""
    _, offs_buf, data = arr.buffers()
    offs = np.frombuffer(offs_buf, dtype=np.int32, count=arr.offset + len(arr) + 1)[arr.offset :]
    body = memoryview(data)[offs[0] : offs[-1]] if data is not None else b""  # no copy
    return [body, np.diff(offs).astype("<i8").tobytes(), _valid_bytes(arr).tobytes()]


def _column_streams(arr: pa.Array) -> list[Any]:
    """A column's content as byte streams, each of which concatenates the same way whatever
    the grouping of rows into batches (so the version id does not depend on it)."""
    valid = _valid_bytes(arr)
    if pa.types.is_string(arr.type):
        return _string_streams(arr)
    if pa.types.is_list(arr.type):  # tags: the flattened strings, then each list's length
        offs_buf = arr.buffers()[1]
        offs = np.frombuffer(offs_buf, dtype=np.int32, count=arr.offset + len(arr) + 1)
        lengths = np.where(valid == 1, np.diff(offs[arr.offset :]), -1)  # a null list: -1
        # without nulls the flattened strings are the child's slice between the first and last
        # offsets (``flatten`` would import pyarrow.compute: a tenth of a second per process)
        flat = (
            arr.values.slice(int(offs[arr.offset]), int(offs[-1] - offs[arr.offset]))
            if arr.null_count == 0
            else arr.flatten()
        )
        return [*_string_streams(flat), lengths.astype("<i8").tobytes()]
    data = arr.buffers()[1]
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(data, dtype=np.uint8)
        values = np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")
        values = values[arr.offset :].astype(np.bool_)
    else:
        dtype = _numpy_dtype(arr.type)
        values = np.frombuffer(data, dtype=dtype, count=arr.offset + len(arr))[arr.offset :]
    values = np.where(valid == 1, values, np.zeros(1, dtype=values.dtype))  # a null: 0 / False
    return [values.astype(values.dtype.newbyteorder("<")).tobytes(), valid.tobytes()]


# -- Python values -> Arrow arrays, without ``pa.array`` ----------------------------------------
# ``pa.array`` imports pandas the first time it is called (to ask whether its argument is a
# pandas object): 0.25 s of CPU and ~50 MB of memory, a sixth of a 52k-row import process. The
# columns of a version have few types, so they are built from their buffers here instead; a
# value these builders do not expect falls back to ``pa.array``, which says what is wrong.


def _validity(values: Sequence[Any]) -> tuple[Any, int]:
    """(the validity bitmap or None when no value is None, the number of Nones)."""
    nulls = values.count(None)
    if not nulls:
        return None, 0
    if nulls == len(values):  # a column not filled in (model, prompt...: most imports)
        return pa.py_buffer(bytes((nulls + 7) // 8)), nulls
    mask = np.fromiter((v is not None for v in values), dtype=np.bool_, count=len(values))
    return pa.py_buffer(np.packbits(mask, bitorder="little")), nulls


def _utf8(values: Sequence[Any]) -> tuple[bytes, Any]:
    """(the values' UTF-8 concatenated, their lengths in bytes); None counts as empty, ``bytes``
    are taken as they are; AttributeError for a value that is neither. Columns of ASCII text
    or of bytes only (most of them) are joined in one C call."""
    if values.count(None):
        values = [b"" if v is None else v for v in values]
    try:
        joined = "".join(values)  # TypeError: not all str
    except TypeError:
        try:
            return b"".join(values), map(len, values)  # all bytes
        except TypeError:
            pass
    else:
        if joined.isascii():  # a character is a byte
            return joined.encode("ascii"), map(len, values)
    try:
        parts = list(map(str.encode, values))  # (UTF-8) TypeError: a bytes value among them
    except TypeError:
        parts = [v if type(v) is bytes else v.encode("utf-8") for v in values]
    return b"".join(parts), map(len, parts)


def _string_array(values: Sequence[Any]) -> pa.Array:
    validity, nulls = _validity(values)
    data, lengths = _utf8(values)
    if len(data) >= 2**31:  # more than a string array holds: let Arrow say so
        raise OverflowError("string column too large")
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(lengths, dtype=np.int32, count=len(values)), out=offsets[1:])
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(values), buffers, null_count=nulls)


_KINDS = {"b": "b", "i": "i", "f": "if"}  # numpy's kind of the values each column type takes


@functools.cache
def _numpy_dtype(type_: pa.DataType) -> np.dtype[Any]:
    return np.dtype(type_.to_pandas_dtype())


@functools.cache
def _int_range(dtype: np.dtype[Any]) -> tuple[int, int]:
    """(min, max) of an integer dtype (``np.iinfo`` costs microseconds a call: once a column
    of each batch)."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _plain_array(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """Integers, floats or booleans (None allowed) from a numpy array of the values; values of
    another kind (a string, a float in an integer column) raise TypeError."""
    validity, nulls = _validity(values)
    boolean = pa.types.is_boolean(type_)
    filled = (
        values if not nulls else [(False if boolean else 0) if v is None else v for v in values]
    )
    found = np.array(filled)  # in C; the kind numpy infers says what the values are
    if (
        found.ndim != 1
        or found.dtype.kind not in _KINDS["b" if boolean else _numpy_dtype(type_).kind]
    ):
        raise TypeError(f"values of kind {found.dtype.kind!r} in a {type_} column")
    if boolean:
        data = pa.py_buffer(np.packbits(found, bitorder="little"))
    else:
        dtype = _numpy_dtype(type_)
        if dtype.kind == "i" and len(found) and (found.min() < _int_range(dtype)[0]
                                                 or found.max() > _int_range(dtype)[1]):  # fmt: skip
            raise OverflowError(f"a value out of {type_}'s range")
        data = pa.py_buffer(found.astype(dtype))
    return pa.Array.from_buffers(type_, len(values), [validity, data], null_count=nulls)


def _string_list_array(values: Sequence[Any]) -> pa.Array:
    validity, nulls = _validity(values)
    lists = [v or () for v in values]
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, lists), dtype=np.int32, count=len(lists)), out=offsets[1:])
    flat = [x for v in lists for x in v]
    if None in flat or any(type(x) is not str for x in flat):
        raise TypeError("a tag that is not a string")
    child = _string_array(flat)
    return pa.Array.from_buffers(
        pa.list_(pa.string()), len(lists), [validity, pa.py_buffer(offsets)],
        null_count=nulls, children=[child],
    )  # fmt: skip


def arrow_column(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """``pa.array(values, type_)`` for the types of ``SCHEMA``, built from buffers (see above)."""
    try:
        if pa.types.is_string(type_):
            return _string_array(values)  # a value that is not text has no .encode
        if pa.types.is_list(type_):
            return _string_list_array(values)
        return _plain_array(values, type_)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return pa.array(values, type_)  # its own conversion, and its own error when wrong


def rows_batch(rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
    """Rows as tuples in ``SCHEMA`` order, as one record batch."""
    if not rows:  # (``arrow_column`` of no values would go to ``pa.array``: pandas)
        return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in SCHEMA], schema=SCHEMA)
    cols = list(zip(*rows, strict=True))  # rows -> columns, in C
    return pa.RecordBatch.from_arrays(
        [arrow_column(col, f.type) for col, f in zip(cols, SCHEMA, strict=True)], schema=SCHEMA
    )


# dictionary encoding only where values repeat (it costs time on unique long texts)
_DICTIONARY = ["src", "made_by", "model", "prompt", "edited_by", "status", "reason"]


def browse_path(parquet_path: str | Path) -> Path:
    path = Path(parquet_path)
    return path.with_name(path.name.removesuffix(".parquet") + ".browse.arrow")


class VersionWriter:
    """Rows in, one immutable version out: ``add`` rows, then ``finish()`` -> (id, path, rows).

    Rows are buffered ``ROW_GROUP`` at a time into a temporary Parquet file and its browse
    sidecar; ``finish`` names both by the content hash (an existing identical version is kept).
    ``background``: the row groups are joined, hashed and written by a thread of their own
    (``WriteBehind``: in order, so the files are the same), while the caller makes the next rows.
    """

    def __init__(
        self, folder: Path, parent_id: str | None, *, dataset_id: str, background: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._parent = parent_id or f"dataset:{dataset_id}"
        self.content_id = ""  # set by finish(): the rows' hash without the parent
        # per hashed column, one hasher per byte stream of ``_column_streams``
        self._hashers: dict[str, list[Any]] = {n: [] for n in _HASHED}
        tag = f".tmp-{os.getpid()}-{id(self):x}"
        self._tmp = self.folder / f"{tag}.parquet"
        self._tmp_browse = browse_path(self._tmp)
        self._pq = pq.ParquetWriter(
            self._tmp, PARQUET_SCHEMA, compression="lz4", use_dictionary=_DICTIONARY
        )
        self._sink = pa.OSFile(str(self._tmp_browse), "wb")
        self._ipc = ipc.new_file(self._sink, BROWSE_SCHEMA)
        self._rows: list[tuple[Any, ...]] = []
        # batches of new rows (``add_rows``) not yet a whole row group
        self._built: list[pa.RecordBatch] = []
        self._built_rows = 0
        self.rows = 0
        self._done = False
        self._behind = WriteBehind(self._write_any) if background else None

    def add(self, row: dict[str, Any]) -> None:
        self.add_values(tuple(row[n] for n in _NAMES))

    def add_values(self, values: tuple[Any, ...]) -> None:
        """A row as a tuple in ``SCHEMA`` order: the fast path."""
        if self._built:
            self._flush_built()
        self._rows.append(values)
        if len(self._rows) >= ROW_GROUP:
            self._flush()

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def add_rows(self, batch: pa.RecordBatch) -> None:
        """New rows already in ``SCHEMA`` form (``rows_batch``: an import's pieces, made in
        worker processes) in batches of any size: written ``ROW_GROUP`` rows at a time, so the
        files are those ``add_values`` of the same rows makes."""
        if self._rows:
            self._flush()
        self._built.append(batch)
        self._built_rows += batch.num_rows
        while self._built_rows >= ROW_GROUP:
            table = pa.Table.from_batches(self._built, schema=SCHEMA)
            self._emit(table.slice(0, ROW_GROUP))
            rest = table.slice(ROW_GROUP)
            self._built = rest.to_batches()
            self._built_rows = rest.num_rows

    def _flush_built(self) -> None:
        if self._built_rows:
            self._emit(pa.Table.from_batches(self._built, schema=SCHEMA))
        self._built, self._built_rows = [], 0

    def _emit(self, rows: pa.Table | pa.RecordBatch) -> None:
        """A row group (a table of pieces, or a batch) written here or by the writing thread."""
        if self._behind is not None:
            self._behind.put(rows)
        else:
            self._write_any(rows)

    def _write_any(self, rows: pa.Table | pa.RecordBatch) -> None:
        if type(rows) is pa.Table:
            self._write_combined(rows)
        else:
            self._write(rows)

    def _write_combined(self, table: pa.Table) -> None:
        # one contiguous batch (no slice offsets), as one batch built from the rows would be
        batches = table.combine_chunks().to_batches()
        self._write(batches[0] if len(batches) == 1 else pa.concat_batches(batches))

    def _flush(self) -> None:
        self._flush_built()
        if not self._rows:
            return
        batch = rows_batch(self._rows)
        self._rows = []
        self._emit(batch)

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """Rows already in ``SCHEMA`` form (an unchanged part of another version) as they are:
        no Python objects are made for them."""
        self._flush()
        self._emit(batch)

    def _write(self, batch: pa.RecordBatch) -> None:
        for name in _HASHED:
            hashers = self._hashers[name]
            for k, stream in enumerate(_column_streams(batch.column(name))):
                if k == len(hashers):
                    hashers.append(hashlib.sha256())
                hashers[k].update(stream)
        self._pq.write_batch(batch.select(PARQUET_SCHEMA.names), row_group_size=ROW_GROUP)
        self._ipc.write_batch(batch.drop_columns(["sample"]))
        self.rows += batch.num_rows

    def wait(self) -> None:
        """Wait until the rows handed over so far are written (``background``)."""
        if self._behind is not None:
            self._behind.wait()

    def finish(self) -> tuple[str, Path, int]:
        self._flush()
        if self._behind is not None:
            self._behind.close()  # (what the writing raised, e.g. a full disk, is raised here)
        self._close()
        digests = b"".join(
            name.encode() + b"".join(h.digest() for h in self._hashers[name]) for name in _HASHED
        )
        self.content_id = hashlib.sha256(b"\n" + digests).hexdigest()[:16]
        version_id = hashlib.sha256(self._parent.encode("utf-8") + b"\n" + digests).hexdigest()[:16]
        path = self.folder / f"{version_id}.parquet"
        if path.exists() and browse_path(path).exists():
            self.abort()
        else:
            os.replace(self._tmp_browse, browse_path(path))
            os.replace(self._tmp, path)
        return version_id, path, self.rows

    def _close(self) -> None:
        if not self._done:
            self._done = True
            self._pq.close()
            self._ipc.close()
            self._sink.close()

    def abort(self) -> None:
        if self._behind is not None:
            with contextlib.suppress(Exception):  # (the writing's own error: being aborted)
                self._behind.close()
        self._close()
        for tmp in (self._tmp, self._tmp_browse):
            tmp.unlink(missing_ok=True)


def _browse_table(parquet_path: str | Path) -> pa.Table:
    """The version's browse file as a table, memory-mapped (nothing is read until used)."""
    return ipc.open_file(pa.memory_map(str(browse_path(parquet_path)))).read_all()


def _whole(core: pa.RecordBatch, browse: pa.Table) -> pa.RecordBatch:
    """A batch of a version's Parquet file with the same rows' derived columns from its browse
    file (``browse``: those rows): the rows in ``SCHEMA``."""
    arrays = []
    have = set(core.schema.names)
    for f in SCHEMA:
        if f.name in have:
            arrays.append(core.column(f.name))
            continue
        chunks = browse.column(f.name).chunks
        arrays.append(chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks))
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def read_rows(path: str | Path, indices: Iterable[int]) -> list[dict[str, Any]]:
    """Whole rows (with ``sample``) at ``indices`` of the version at ``path``, in that order;
    only the row groups holding them are decoded."""
    wanted = sorted(set(indices))
    if not wanted:
        return []
    pf = pq.ParquetFile(str(path), memory_map=True)
    found: dict[int, dict[str, Any]] = {}
    start = 0
    meta = pf.metadata
    groups: dict[int, list[int]] = {}
    bounds: list[tuple[int, int]] = []
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        bounds.append((start, start + n))
        start += n
    g = 0
    for i in wanted:
        while g < len(bounds) and i >= bounds[g][1]:
            g += 1
        if g == len(bounds):
            raise IndexError(f"row {i} is past the end of {path}")
        groups.setdefault(g, []).append(i)
    browse = None if "search" in pf.schema_arrow.names else _browse_table(path)
    for g, rows in groups.items():
        table = pf.read_row_group(g)
        lo = bounds[g][0]
        picked = table.take(arrow_column([i - lo for i in rows], pa.int64()))  # (no pandas)
        if browse is not None:  # the derived columns, from the browse file
            # one zero-copy slice per row (``take`` on the whole table would first join its
            # chunks: a copy of the browse file, seconds and hundreds of MB for a million rows)
            part = pa.concat_tables([browse.slice(i, 1) for i in rows])
            got = _whole(picked.combine_chunks().to_batches()[0], part)
            picked = pa.Table.from_batches([got])
        for i, row in zip(rows, picked.to_pylist(), strict=True):
            found[i] = row
    return [found[i] for i in indices]


def iter_batches(
    path: str | Path, batch_rows: int = ROW_GROUP, *, columns: Sequence[str] | None = None
) -> Iterable[pa.RecordBatch]:
    """Every row of a version as record batches in ``SCHEMA``, in order (the Parquet file's
    columns with the browse file's derived ones, as zero-copy slices where they line up).
    ``columns``: only these, when the Parquet file holds them all (the browse file is then not
    opened: e.g. ``["sample"]`` for a run's input)."""
    pf = pq.ParquetFile(str(path), memory_map=True)
    if columns is not None:
        if not set(columns) <= set(pf.schema_arrow.names):
            raise ValueError(f"not stored in the version's Parquet file: {sorted(columns)}")
        yield from pf.iter_batches(batch_size=batch_rows, columns=list(columns))
        return
    if "search" in pf.schema_arrow.names:  # written before 2026-12-07: whole rows
        yield from pf.iter_batches(batch_size=batch_rows)
        return
    browse = _browse_table(path)
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        yield _whole(batch, browse.slice(start, batch.num_rows))
        start += batch.num_rows


def iter_rows(path: str | Path, batch_rows: int = ROW_GROUP) -> Iterable[dict[str, Any]]:
    """Every row of a version, in order, one row group at a time."""
    for batch in iter_batches(path, batch_rows):
        yield from batch.to_pylist()
