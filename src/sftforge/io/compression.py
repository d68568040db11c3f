"""Compression: gz, bz2, xz and zst, recognised by magic bytes first and by file extension second.

Magic bytes win over the name: a ``.gz`` file that is not gzip data is read as it is. Every
decompressor is wrapped so a truncated or corrupt stream raises ``InputError`` naming the file
instead of ``EOFError``/``zlib.error``.
"""

from __future__ import annotations

import io
from typing import BinaryIO, cast

from ..errors import InputError

__all__ = [
    "COMPRESSIONS",
    "StreamError",
    "compression_from_name",
    "open_compressed_writer",
    "open_decompressed",
    "sniff_compression",
    "strip_compression_suffix",
]

COMPRESSIONS: tuple[str, ...] = ("gz", "bz2", "xz", "zst")
_EXT = {
    ".gz": "gz",
    ".gzip": "gz",
    ".bz2": "bz2",
    ".xz": "xz",
    ".lzma": "xz",
    ".zst": "zst",
    ".zstd": "zst",
}
_MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
)


class StreamError(InputError):
    """The (decompressed) byte stream broke: truncated or corrupt compressed data."""


def compression_from_name(name: str) -> str | None:
    lower = name.lower()
    for ext, kind in _EXT.items():
        if lower.endswith(ext):
            return kind
    return None


def strip_compression_suffix(name: str) -> str:
    """``data.jsonl.gz`` -> ``data.jsonl``: the name that tells the container."""
    lower = name.lower()
    for ext in _EXT:
        if lower.endswith(ext):
            return name[: -len(ext)]
    return name


def sniff_compression(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


class _Guarded(io.RawIOBase):
    """Reads a decompressor and turns its low-level failures into one clear ``StreamError``."""

    def __init__(self, inner: BinaryIO, kind: str, name: str) -> None:
        self._inner = inner
        self._kind = kind
        self._name = name
        # read1 hands over what was decompressed before a cut; read() would lose it with the error
        self._read = getattr(inner, "read1", inner.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._read(len(buf))
        except EOFError:
            raise StreamError(
                f"the {self._kind} data ends before its end marker: the file is truncated.",
                file=self._name,
                hint="re-download or re-create the file; records before the cut were read",
            ) from None
        except Exception as exc:
            if not isinstance(exc, _corrupt_errors()):
                raise
            raise StreamError(
                f"the {self._kind} data is corrupt ({exc}).",
                file=self._name,
                hint="re-download or re-create the file, or check that it really is compressed",
            ) from None
        n = len(data)
        buf[:n] = data
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zlib

    return (OSError, zlib.error, lzma.LZMAError, ValueError)


# gzip, bz2 and lzma are imported where a file uses them: most inputs are not compressed
def open_decompressed(raw: BinaryIO, kind: str, name: str) -> BinaryIO:
    """A buffered reader of the decompressed bytes of ``raw``."""
    inner: BinaryIO
    if kind == "gz":
        import gzip

        inner = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    elif kind == "bz2":
        import bz2

        inner = cast(BinaryIO, bz2.BZ2File(raw, mode="rb"))
    elif kind == "xz":
        import lzma

        inner = cast(BinaryIO, lzma.LZMAFile(raw, mode="rb"))  # noqa: SIM115
    elif kind == "zst":
        import zstandard

        inner = cast(
            BinaryIO, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        )
    else:
        raise InputError(f"unknown compression '{kind}'.", file=name, hint=_choices())
    return cast(BinaryIO, io.BufferedReader(_Guarded(inner, kind, name), buffer_size=1 << 20))


def open_compressed_writer(raw: BinaryIO, kind: str) -> BinaryIO:
    """A writer compressing into ``raw``; closing it flushes the compressor but not ``raw``."""
    if kind == "gz":
        import gzip

        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0))
    if kind == "bz2":
        import bz2

        return cast(BinaryIO, bz2.BZ2File(raw, mode="wb"))
    if kind == "xz":
        import lzma

        return cast(BinaryIO, lzma.LZMAFile(raw, mode="wb"))
    if kind == "zst":
        import zstandard

        return cast(BinaryIO, zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False))
    raise InputError(f"unknown compression '{kind}'.", hint=_choices())


def _choices() -> str:
    return f"use one of: {', '.join(COMPRESSIONS)}"
