"""Opening an input: a local path, ``-`` (stdin) or a URL, decompressed and decoded to UTF-8 bytes.

URLs (``http(s)://``, ``ftp://``, ``s3://``) are streamed by ``sftforge.io.remote`` and shown
with their credentials masked. ``open_input`` sniffs compression from magic bytes, then the text
encoding from the first 64 KiB, and returns the stream with that head already read (and put
back: a plain file that can seek is simply sought back, other streams are wrapped) so container
detection costs nothing. Folders and Hugging Face datasets are
``sftforge.io.folders``.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from ..errors import InputError
from .compression import open_decompressed, sniff_compression
from .encoding import detect_encoding, normalize_encoding, recode_to_utf8
from .paths import is_url, masked

__all__ = ["HEAD_BYTES", "Opened", "display_name", "open_input", "open_raw"]

HEAD_BYTES = 1 << 16


@dataclass
class Opened:
    """An input ready for a container reader: UTF-8 bytes with the BOM removed."""

    name: str
    stream: BinaryIO
    head: bytes
    raw: BinaryIO
    size: int | None
    compression: str | None
    encoding: str
    magic: bytes = b""  # the first bytes as stored, before decompressing and decoding
    _closed: bool = field(default=False, repr=False)

    def bytes_read(self) -> int:
        """How far into the (compressed) file reading has got: for progress bars."""
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.stream.close()
            if not _is_stdin(self.raw):
                self.raw.close()


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``inner``: puts back bytes read for sniffing."""

    def __init__(self, head: bytes, inner: BinaryIO, error: InputError | None = None) -> None:
        self._head = head
        self._inner = inner
        self._error = error  # raised once the head is used up (a stream broken inside the head)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        data = self._inner.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _buffered(raw: io.RawIOBase) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(raw, buffer_size=1 << 20))


def _position(stream: BinaryIO) -> int | None:
    """Where ``stream`` stands, if it can seek back there (a regular file); else None."""
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError):
        return None


def _is_stdin(raw: object) -> bool:
    """Whether ``raw`` is the process's stdin (not closed directly here). A replaced
    ``sys.stdin`` (a ``StringIO`` in an embedding program) has no ``.buffer``."""
    return raw is getattr(sys.stdin, "buffer", None)


def display_name(path: str) -> str:
    """How an input is named in messages, rejects and reports: credentials masked."""
    return "<stdin>" if path == "-" else masked(path)


def open_raw(path: str) -> tuple[BinaryIO, int | None]:
    """The undecoded byte stream of ``path`` (``-`` is stdin, a URL is streamed) and its size
    when known."""
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise InputError(
                "standard input is not a byte stream here.",
                file="<stdin>",
                hint="pass a file path instead of '-'",
            )
        return stdin, None
    if is_url(path):
        from .remote import open_url  # (here: a local file needs no remote module)

        return open_url(path)
    if os.path.isdir(path):
        raise InputError(
            "is a directory, not a file.", file=path, hint="name one data file inside it"
        )
    try:
        fh = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by Opened.close
    except FileNotFoundError:
        raise InputError(
            "no such file.",
            file=path,
            hint="check the path (relative paths start at the current directory)",
        ) from None
    except PermissionError:
        raise InputError(
            "permission denied.", file=path, hint="check the file's permissions"
        ) from None
    return cast(BinaryIO, fh), os.fstat(fh.fileno()).st_size


def _read_head(stream: BinaryIO) -> tuple[bytes, InputError | None]:
    """Up to ``HEAD_BYTES`` from ``stream``, and the error that cut it short (a broken stream)."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < HEAD_BYTES:
            chunk = stream.read(min(8192, HEAD_BYTES - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
    except InputError as exc:
        return b"".join(parts), exc
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc}).") from None
    return b"".join(parts), None


def open_input(path: str, *, encoding: str | None = None, compression: str | None = None) -> Opened:
    """Open ``path`` for a text container reader; raise ``InputError`` on whole-file problems."""
    raw, size = open_raw(path)
    try:
        return _open(path, raw, size, encoding, compression)
    except BaseException:
        if not _is_stdin(raw):
            raw.close()
        raise


def _open(
    path: str, raw: BinaryIO, size: int | None, encoding: str | None, compression: str | None
) -> Opened:
    name = display_name(path)
    if not hasattr(raw, "peek"):
        raw = cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, raw)))
    # magic bytes decide; a ".gz" name on plain (or empty) data is read as it is
    magic = cast(io.BufferedReader, raw).peek(8)[:8]
    kind = compression or sniff_compression(magic)
    stream: BinaryIO = open_decompressed(raw, kind, name) if kind else raw
    origin = _position(raw) if stream is raw else None  # where the data starts in a plain file
    head, broken = _read_head(stream)
    if broken is not None:
        broken.file = broken.file or name
        if not head:  # nothing came out before the cut (bz2 gives nothing until a block ends)
            broken.hint = "re-download or re-create the file; no record was read: nothing before the cut could be decompressed"
            raise broken
    enc, bom = detect_encoding(head) if encoding is None else (normalize_encoding(encoding), 0)
    if encoding is not None and enc in ("utf-8", "utf-8-sig") and head.startswith(b"\xef\xbb\xbf"):
        bom = 3
    if enc == "utf-8-sig":
        enc = "utf-8"
    if origin is not None and broken is None and enc == "utf-8":
        # a plain file that can seek: read on from after the BOM in the file itself (no wrapper
        # that puts the head back: each chunk would be copied twice more on its way in)
        raw.seek(origin + bom)
    else:
        stream = _buffered(_Prefixed(head[bom:], stream, broken))
    if enc != "utf-8":
        stream = recode_to_utf8(stream, enc)
        head, broken = _read_head(stream)
        stream = _buffered(_Prefixed(head, stream, broken))
    else:
        head = head[bom:]
    if not head.strip() and len(head) < HEAD_BYTES - bom:
        raise InputError(
            "the file is empty: there are no records to read.",
            file=name,
            hint="check that the right file was named and that it was written completely",
        )
    return Opened(name, stream, head, raw, size, kind, enc, magic)
