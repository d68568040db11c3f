"""Containers and places: reading files into ``RawRecord`` values and writing records back.

Readers: JSONL, JSON array (streamed), a single JSON object, CSV/TSV, Parquet and plain text;
gz/bz2/xz/zst; UTF-8 (with or without BOM), UTF-16/32, GB18030 and other encodings detected.
Writers: the same containers and compressions, atomically.
"""

from .containers import (
    CONTAINERS,
    DEFAULT_MAX_RECORD_BYTES,
    RecordSource,
    RecordWriter,
    container_from_name,
    open_writer,
    read_records,
    sniff_container,
)
from .errors import RecordError
from .record import RawRecord

__all__ = [
    "CONTAINERS",
    "DEFAULT_MAX_RECORD_BYTES",
    "RawRecord",
    "RecordError",
    "RecordSource",
    "RecordWriter",
    "container_from_name",
    "open_writer",
    "read_records",
    "sniff_container",
]
