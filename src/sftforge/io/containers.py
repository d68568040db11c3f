"""Containers: which one a file is (by name, else by its first bytes) and the reader/writer for it.

``read_records`` is the one entry point readers use: it opens the input (a local file, stdin or
a URL; decompressing and decoding), picks the container and yields ``RawRecord`` values. A
folder or a hub dataset id (``sftforge.io.folders``) is read shard after shard through the same
entry point, each record naming its shard file and row. ``open_writer`` is its mirror for
output: container and compression from the name (or given), written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

import orjson

from ..errors import InputError
from .atomic import AtomicFile
from .compression import (
    COMPRESSIONS,
    StreamError,
    compression_from_name,
    open_compressed_writer,
    strip_compression_suffix,
)
from .errors import RecordError
from .jsonl import JsonlSplitter, JsonlWriter
from .paths import is_dataset_ref, is_url
from .pieces import Piece, PieceStream, Records, group_records
from .record import RawRecord
from .sources import display_name, open_input, open_raw

__all__ = [
    "CONTAINERS",
    "DEFAULT_MAX_RECORD_BYTES",
    "RecordSource",
    "RecordWriter",
    "container_from_name",
    "open_writer",
    "read_records",
    "sniff_container",
]

CONTAINERS: tuple[str, ...] = (
    "jsonl", "json", "object", "csv", "tsv", "parquet", "arrow", "txt", "xlsx",
)  # fmt: skip
_READ_ONLY = ("object", "arrow", "xlsx")
# containers read with random access: a pipe or a remote file is spooled to disk first
_COLUMNAR = ("parquet", "arrow", "xlsx")
DEFAULT_MAX_RECORD_BYTES = 32 << 20
_EXT = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl", ".json": "json",
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow",
    ".txt": "txt", ".text": "txt", ".md": "txt", ".xlsx": "xlsx", ".xls": "xls",
}  # fmt: skip


def container_from_name(name: str) -> str | None:
    if is_url(name):  # the path part: a query string (a signed URL) is not an extension
        name = name.partition("?")[0]
    _, ext = os.path.splitext(strip_compression_suffix(name).lower())
    return _EXT.get(ext)


def sniff_container(head: bytes) -> str | None:
    """``jsonl``, ``json`` (array) or ``object`` from the first bytes; None when not JSON."""
    body = head.lstrip()
    if not body or body[:1] not in (b"[", b"{"):
        return None
    lines = [ln for ln in body.split(b"\n", 3)[:3] if ln.strip()]
    if len(lines) >= 2 and _complete(lines[0]) and _complete(lines[1]):
        return "jsonl"
    if body[:1] == b"[":
        return "json"
    return "jsonl" if _complete(lines[0]) else "object"


def _complete(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _unknown(name: str) -> InputError:
    return InputError(
        "cannot tell the container (not JSON, and the file name has no known extension).",
        file=name,
        hint=f"pass --container, one of: {', '.join(CONTAINERS)}",
    )


class RecordSource:
    """The records of one input, with what was detected about it and how far reading has got."""

    def __init__(
        self, name: str, container: str, records: Iterator[RawRecord], *,
        encoding: str | None, compression: str | None, size: int | None, closer: Any, progress: Any,
        pieces: Callable[[], PieceStream] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, check_text: bool = True,
        notices: Callable[[], list[RecordError]] | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self.container = container
        self.encoding = encoding
        self.compression = compression
        self.size = size
        self.max_record_bytes = max_record_bytes
        self.check_text = check_text
        self._records = records
        self._pieces = pieces
        self._closer = closer
        self._progress = progress
        self._notices = notices

    @property
    def notices(self) -> list[RecordError]:
        """Problems met so far that are not records (a JSON array's stray separators), in file
        order: each names file, line and column; nothing was read or rejected for them."""
        return self._notices() if self._notices is not None else []

    def __iter__(self) -> Iterator[RawRecord]:
        try:
            yield from self._records
        except StreamError as err:
            # a broken compressed stream ends the input: one record-level error, so the policy
            # decides (skip keeps what was read before the cut and records the loss)
            err.file = err.file or self.name
            yield RawRecord(
                None,
                self.name,
                err.line or 0,
                None,
                RecordError("truncated", err.message, file=err.file, line=err.line, hint=err.hint),
            )

    def pieces(self) -> PieceStream:
        """The records not read yet, as pieces (``sftforge.io.pieces``): unparsed JSONL lines and
        JSON array windows where the container allows, else records in groups."""
        inner = (
            self._pieces()
            if self._pieces is not None
            else PieceStream(group_records(self._records))
        )
        return _Guarded(inner, self.name)

    def bytes_read(self) -> int:
        return int(self._progress())

    def close(self) -> None:
        self._closer()

    def __enter__(self) -> RecordSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Guarded(PieceStream):
    """Pieces with the broken-stream handling of ``RecordSource.__iter__``."""

    def __init__(self, inner: PieceStream, name: str) -> None:
        super().__init__(inner, inner.settle, inner.rollback)
        self._name = name
        self._broken = False

    def __next__(self) -> Piece:
        if self._broken:
            raise StopIteration
        try:
            return next(self._it)
        except StreamError as err:
            self._broken = True
            err.file = err.file or self._name
            return Records([
                RawRecord(
                    None, self._name, err.line or 0, None,
                    RecordError("truncated", err.message, file=err.file, line=err.line, hint=err.hint),
                )
            ])  # fmt: skip


def read_records(
    path: str,
    *,
    container: str | None = None,
    encoding: str | None = None,
    compression: str | None = None,
    text_mode: str = "line",
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    check_text: bool = True,
) -> RecordSource:
    """Open ``path`` (``-`` is stdin) and return its records; whole-file problems raise.

    ``check_text`` rejects records holding NUL bytes, U+FFFD replacement characters or
    Latin-1/cp1252 mojibake; turn it off to pass such text through unchanged.
    """
    name = display_name(path)
    if container is not None and container not in CONTAINERS:
        raise InputError(
            f"unknown container '{container}'.", hint=f"use one of: {', '.join(CONTAINERS)}"
        )
    if container is None and is_dataset_ref(path):
        return _folder(
            path, encoding=encoding, compression=compression, text_mode=text_mode,
            max_record_bytes=max_record_bytes, check_text=check_text,
        )  # fmt: skip
    named = container or container_from_name(path)
    if named == "xls":
        from .xlsx import refuse_xls

        raise refuse_xls(name)
    if named in _COLUMNAR:
        return _columnar(path, name, str(named))
    opened = open_input(path, encoding=encoding, compression=compression)
    kind = container or container_from_name(path)
    # from the stored bytes: an Arrow stream's header could pass for UTF-16 and be re-encoded
    magic = _columnar_magic(opened.magic) if kind is None and not opened.compression else None
    if magic is not None:
        opened.close()
        return _columnar(path, name, magic)
    if kind in (None, "json"):
        kind = sniff_container(opened.head) or kind
    if kind is None:
        opened.close()
        raise _unknown(name)
    stream, limit = opened.stream, max_record_bytes
    records: Iterator[RawRecord]
    pieces: Callable[[], PieceStream] | None = None
    notices: Callable[[], list[RecordError]] | None = None
    if kind == "jsonl":
        lines = JsonlSplitter(stream, name, max_record_bytes=limit, check=check_text)
        records, pieces = lines.records(), lambda: PieceStream(lines.pieces())
    elif kind == "json":
        from .jsonarray import JsonArraySplitter  # (here: JSONL, the common case, needs none)

        array = JsonArraySplitter(stream, name, max_record_bytes=limit, check=check_text)
        # guessed windows are read twice after a rollback: only where a read cannot fail
        plain = opened.compression is None and opened.encoding == "utf-8"
        records, pieces = array.records(), lambda: array.pieces(speculate=plain)
        notices = array.notices
    # the other containers' modules are imported when a file needs them: a JSON or JSONL
    # conversion, the common case, starts faster without them
    elif kind == "object":
        from .jsonobject import iter_json_object

        records = iter_json_object(stream, name, max_record_bytes=limit, check=check_text)
    elif kind in ("csv", "tsv"):
        from .delimited import iter_delimited

        delim = "," if kind == "csv" else "\t"
        records = iter_delimited(
            stream, name, delimiter=delim, max_record_bytes=limit, check=check_text
        )
    else:
        from .text import iter_text

        records = iter_text(stream, name, mode=text_mode, max_record_bytes=limit, check=check_text)
    return RecordSource(
        name, kind, records, encoding=opened.encoding, compression=opened.compression,
        size=opened.size, closer=opened.close, progress=opened.bytes_read, pieces=pieces,
        max_record_bytes=limit, check_text=check_text, notices=notices,
    )  # fmt: skip


def _columnar_magic(head: bytes) -> str | None:
    """Parquet or Arrow IPC (file or stream format) from the first bytes."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow"
    return None


def _columnar(path: str, name: str, kind: str) -> RecordSource:
    """Parquet and Arrow need random access: a pipe or a remote file is spooled to a temporary
    file first (memory stays flat), a local file is read in place."""
    raw, size = open_raw(path)
    if not raw.seekable():
        from .remote import spool

        try:
            local = spool(raw)
        finally:
            if path != "-":
                raw.close()
        raw = local
    reader: Callable[[BinaryIO, str], Iterator[RawRecord]]
    if kind == "parquet":
        from .parquet import iter_parquet as reader
    elif kind == "arrow":
        from .arrow import iter_arrow as reader
    else:
        from .xlsx import iter_xlsx as reader
    return RecordSource(
        name, kind, reader(raw, name), encoding=None, compression=None, size=size,
        closer=raw.close, progress=lambda: raw.tell() if not raw.closed else 0,
    )  # fmt: skip


def _folder(path: str, **options: Any) -> RecordSource:
    """A folder or hub dataset: its shards in order through ``read_records``, so each record's
    ``source`` is its shard file and ``line`` its row there."""
    from .folders import resolve_dataset  # (here: a file needs no folder module)

    dataset = resolve_dataset(path)
    sizes = [p.stat().st_size for p in dataset.shards]
    kinds = {container_from_name(str(p)) for p in dataset.shards}
    state: dict[str, Any] = {"done": 0, "current": None}

    def records() -> Iterator[RawRecord]:
        for shard, size in zip(dataset.shards, sizes, strict=True):
            source = read_records(str(shard), **options)
            state["current"] = source
            with source:
                yield from source
            state["current"] = None
            state["done"] += size

    def progress() -> int:
        current = state["current"]
        return int(state["done"]) + (current.bytes_read() if current is not None else 0)

    def close() -> None:
        if state["current"] is not None:
            state["current"].close()

    kind = kinds.pop() if len(kinds) == 1 else None
    return RecordSource(
        display_name(path), f"folder of {kind or 'mixed'} shards ({len(sizes)})", records(),
        encoding=None, compression=None, size=sum(sizes), closer=close, progress=progress,
    )  # fmt: skip


class _ContainerWriter(Protocol):
    def write(self, value: Any) -> None: ...
    def close(self) -> None: ...


class RecordWriter:
    """Writes records to ``path`` in a container, compressed or not, atomically.

    Use as a context manager: leaving on an exception removes the temporary file, leaving any
    earlier file at ``path`` untouched.
    """

    def __init__(
        self, path: str, *, container: str, compression: str | None = None, text_mode: str = "line"
    ) -> None:
        if container not in CONTAINERS or container in _READ_ONLY:
            raise InputError(
                f"cannot write the container '{container}'.",
                hint=f"use one of: {', '.join(c for c in CONTAINERS if c not in _READ_ONLY)}",
            )
        if compression is not None and compression not in COMPRESSIONS:
            raise InputError(
                f"unknown compression '{compression}'.",
                hint=f"use one of: {', '.join(COMPRESSIONS)}",
            )
        self.path = path
        self.container = container
        self.compression = compression
        self.count = 0
        self._file = AtomicFile(path)
        self._stream: BinaryIO = (
            open_compressed_writer(self._file.fh, compression) if compression else self._file.fh
        )
        self._writer: _ContainerWriter
        if container == "jsonl":
            self._writer = JsonlWriter(self._stream)
        elif container == "json":
            from .jsonarray import JsonArrayWriter

            self._writer = JsonArrayWriter(self._stream)
        elif container in ("csv", "tsv"):
            from .delimited import DelimitedWriter

            self._writer = DelimitedWriter(self._stream, "," if container == "csv" else "\t")
        elif container == "parquet":
            from .parquet import ParquetWriter

            self._writer = ParquetWriter(self._stream)
        else:
            from .text import TextWriter

            self._writer = TextWriter(self._stream, text_mode)

    def write(self, value: Any) -> None:
        self._writer.write(value)
        self.count += 1

    @property
    def joiner(self) -> bytes | None:
        """What goes between serialised values in a blob for ``write_blob`` (None: no blobs)."""
        return getattr(self._writer, "joiner", None)

    def write_blob(self, blob: bytes, count: int) -> None:
        """Write ``count`` values serialised with orjson and joined by ``joiner``."""
        if count:
            self._writer.write_blob(blob)  # type: ignore[attr-defined]
            self.count += count

    def close(self) -> None:
        try:
            self._writer.close()
            if self._stream is not self._file.fh:
                self._stream.close()
        except BaseException:  # (a full disk while the footer or the compressed tail is written)
            self._file.abort()
            raise
        self._file.commit()

    def abort(self) -> None:
        self._file.abort()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_writer(
    path: str,
    *,
    container: str | None = None,
    compression: str | None = None,
    default_container: str = "jsonl",
    text_mode: str = "line",
) -> RecordWriter:
    """A ``RecordWriter`` for ``path``; container and compression default from the name."""
    name = "-" if path == "-" else path
    kind = container or container_from_name(name) or default_container
    comp = compression or (compression_from_name(name) if name != "-" else None)
    return RecordWriter(path, container=kind, compression=comp, text_mode=text_mode)
