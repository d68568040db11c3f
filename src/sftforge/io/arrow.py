"""Arrow IPC files (``.arrow``): what Hugging Face ``save_to_disk`` writes, read in record batches.

Hugging Face writes the IPC *stream* format; the IPC *file* format (Feather v2) is read too.
Rows come out as Python dicts, ``line`` being the 1-based row number, like Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import InputError
from .record import RawRecord

__all__ = ["batch_records", "iter_arrow"]


def iter_arrow(source: BinaryIO | str, file: str) -> Iterator[RawRecord]:
    """The rows of an Arrow IPC stream or file at ``source`` (a seekable stream or a local path)."""
    import pyarrow as pa

    try:
        batches = _open(pa, source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"not a readable Arrow IPC file ({exc}).",
            file=file,
            hint="check that the file is complete, or pass --container for its real container",
        ) from None
    return batch_records(batches, file, "Arrow")


def batch_records(batches: Iterator[Any], file: str, kind: str) -> Iterator[RawRecord]:
    """The rows of Arrow record ``batches`` as records (``line``: the 1-based row); a batch that
    cannot be read ends the input with one error naming the row after the last one read. Parquet
    reads through this too."""
    import pyarrow as pa

    row = 0
    try:
        for batch in batches:
            for value in batch.to_pylist():
                row += 1
                yield RawRecord(value, file, row, None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"the {kind} data is damaged after row {row} ({exc}).",
            file=file,
            line=row + 1,
            hint="re-create the file; the rows before were read",
        ) from None


def _open(pa: Any, source: BinaryIO | str) -> Iterator[Any]:
    handle = pa.memory_map(source) if isinstance(source, str) else source
    try:
        return iter(pa.ipc.open_stream(handle))
    except pa.ArrowInvalid:
        handle.seek(0)
        reader = pa.ipc.open_file(handle)
        return (reader.get_batch(i) for i in range(reader.num_record_batches))
