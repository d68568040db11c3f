"""Parquet via pyarrow, read and written in batches so memory stays bounded.

Rows come out as Python dicts (``line`` is the 1-based row number). Columns are the union of all
records' keys, so a key a record lacks reads back as ``None``. Parquet needs random access,
so a piped or remote Parquet input is first spooled to a temporary file. The writer infers the schema
from the first batch (all its rows); a later batch with a field the schema lacks is an error naming
the field, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import ConversionError, InputError
from .arrow import batch_records
from .record import RawRecord

__all__ = ["ParquetWriter", "iter_parquet"]

_BATCH = 4096


def iter_parquet(source: BinaryIO | str, file: str) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(source, str) and not source.seekable():
        from .remote import spool

        source = spool(source)
    try:
        pf = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"not a readable Parquet file ({exc}).",
            file=file,
            hint="check that the file is complete, or pass --container for its real container",
        ) from None
    yield from batch_records(pf.iter_batches(batch_size=_BATCH), file, "Parquet")


class ParquetWriter:
    """Buffers rows and writes a row group per ``_BATCH`` rows (zstd-compressed columns)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._rows: list[Any] = []
        self._writer: Any = None
        self._schema: Any = None

    def write(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise ConversionError(
                f"a Parquet row must be an object, got {type(value).__name__}.",
                hint="write this format to .jsonl or .json instead",
            )
        self._rows.append(value)
        if len(self._rows) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        try:
            # infer from every row (the union of keys), never from the first row only
            inferred = pa.array(self._rows)
            if self._schema is None:
                table = pa.Table.from_struct_array(inferred)
            else:
                extra = _extra_fields(inferred.type, pa.struct(list(self._schema)), "")
                if extra:
                    raise ConversionError(
                        f"field '{extra}' first appears after the Parquet schema was fixed by "
                        "the first rows; writing it would drop it.",
                        hint="write to .jsonl instead (Parquet needs one schema for the file)",
                    )
                table = pa.Table.from_pylist(self._rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ConversionError(
                f"these records do not fit one Parquet schema ({exc}).",
                hint="write to .jsonl instead, or make the records' fields the same types",
            ) from None
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._out, table.schema, compression="zstd")
        self._writer.write_table(table)
        self._rows.clear()

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.flush()
        if self._writer is None:  # no rows: still a valid, empty Parquet file
            self._writer = pq.ParquetWriter(self._out, pa.schema([]))
        self._writer.close()


def _extra_fields(got: Any, want: Any, path: str) -> str | None:
    """The first field path in type ``got`` that type ``want`` lacks (structs, lists), or None."""
    import pyarrow as pa

    if pa.types.is_struct(got) and pa.types.is_struct(want):
        names = {want.field(i).name: want.field(i).type for i in range(want.num_fields)}
        for i in range(got.num_fields):
            f = got.field(i)
            sub = f"{path}.{f.name}" if path else f.name
            if f.name not in names:
                return sub
            deeper = _extra_fields(f.type, names[f.name], sub)
            if deeper:
                return deeper
    elif pa.types.is_list(got) and pa.types.is_list(want):
        return _extra_fields(got.value_type, want.value_type, path + "[]")
    return None
