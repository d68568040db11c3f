"""Parquet via pyarrow, read and written in batches so memory stays bounded.

Rows come out as Python dicts (``line`` is the 1-based row number). Parquet needs random access,
so a compressed or piped Parquet input is first read into memory. The writer infers the schema
from the first batch; a later batch that does not fit it is an error naming the column.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import ConversionError, InputError
from .record import RawRecord

__all__ = ["ParquetWriter", "iter_parquet"]

_BATCH = 4096


def iter_parquet(source: BinaryIO | str, file: str) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(source, str) and not source.seekable():
        source = io.BytesIO(source.read())
    try:
        pf = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"not a readable Parquet file ({exc}).",
            file=file,
            hint="check that the file is complete, or pass --container for its real container",
        ) from None
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=_BATCH):
            for value in batch.to_pylist():
                row += 1
                yield RawRecord(value, file, row, None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"the Parquet data is damaged after row {row} ({exc}).",
            file=file,
            line=row + 1,
            hint="re-create the file; the rows before were read",
        ) from None


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
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
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
