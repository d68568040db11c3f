"""Text encodings: detect once per file from its first bytes, then hand readers UTF-8 bytes.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32) decides; else bytes where every other one is NUL
are BOM-less UTF-16; else UTF-8 unless the sample is clearly in another encoding (see
``_utf8_with_stray_lines``: a few lines in another encoding, or a stray byte, never turn valid
UTF-8 into another codec for the whole file; those lines are reported one by one, with
``guess_line_encoding`` saying what they look like); else GB18030 (a superset of GBK and GB2312)
when it decodes strictly and yields mostly CJK; else charset-normalizer's best guess. Non-UTF-8
input is re-encoded to UTF-8 on the fly so every container reader works on one kind of bytes.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, cast

from ..errors import InputError

__all__ = [
    "Utf8Recoder",
    "detect_encoding",
    "guess_line_encoding",
    "normalize_encoding",
    "recode_to_utf8",
]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_encoding(name: str) -> str:
    """Canonical codec name; GBK/GB2312 widen to GB18030 (a strict superset)."""
    try:
        canon = codecs.lookup(name).name
    except LookupError:
        raise InputError(
            f"unknown encoding '{name}'.",
            hint="pass a Python codec name such as utf-8, utf-16, gb18030, big5, shift_jis, latin-1",
        ) from None
    return "gb18030" if canon in ("gbk", "gb2312") else canon


def detect_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a file starting with ``head`` and the length of its BOM to skip."""
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc, len(bom)
    if _looks_utf16(head):
        return ("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"), 0
    if _utf8_with_stray_lines(head):
        return "utf-8", 0
    if _is_cjk_gb18030(head):
        return "gb18030", 0
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None:
        return "utf-8", 0  # binary-looking: let the readers report the bad lines
    return normalize_encoding(best.encoding), 0


def _looks_utf16(head: bytes) -> bool:
    sample = head[:4096]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    # ASCII text in UTF-16 has a NUL in every other byte; a stray NUL in UTF-8 text does not
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.4


def _utf8_with_stray_lines(head: bytes) -> bool:
    """True unless ``head`` is clearly not UTF-8.

    Judged line by line, because damage comes in lines (one record pasted from a cp1252 editor, a
    stray byte): a line with non-ASCII bytes that decodes as UTF-8 is strong evidence for UTF-8
    (valid multi-byte sequences almost never occur by chance in GBK or Latin-1 text), a line that
    fails is evidence against, and ASCII lines say nothing. The file is UTF-8 when no line fails,
    when good multi-byte lines are at least as many as failing ones, or when the failing lines are
    at most one in ten: re-decoding the whole file for them would garble every good line, while
    reading it as UTF-8 rejects only them, each with its line number.
    """
    lines = head.split(b"\n")
    good_multi = bad = total = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        total += 1
        if line.isascii():
            continue
        try:
            # the sample may cut the last line inside a character: an unfinished one is not bad
            codecs.getincrementaldecoder("utf-8")().decode(line, final=i < len(lines) - 1)
        except UnicodeDecodeError:
            bad += 1
        else:
            good_multi += 1
    return bad == 0 or good_multi >= bad or bad * 10 <= total


def guess_line_encoding(raw: bytes) -> tuple[str, str] | None:
    """What a line that is not UTF-8 probably is: ``(codec, text as that codec)``, or None.

    GB18030 when it decodes strictly to mostly CJK in runs (Chinese words; cp1252 accents read
    as GB18030 give lone ideographs inside Latin words, ``se駉r``), else cp1252 when every
    non-ASCII character it gives is a letter (``señor``); used in the line's error message.
    """
    text = raw.strip()
    if _is_cjk_gb18030(text):
        gb = text.decode("gb18030", errors="replace")
        cjk = {i for i, ch in enumerate(gb) if _is_cjk(ch)}
        paired = sum(1 for i in cjk if (i - 1 in cjk) or (i + 1 in cjk))
        if paired * 2 >= len(cjk):
            return "gb18030", gb
    try:
        decoded = text.decode("cp1252")
    except UnicodeDecodeError:
        return None
    if all(ch.isalpha() for ch in decoded if ord(ch) > 127):
        return "cp1252", decoded
    return None


def _is_cjk_gb18030(head: bytes) -> bool:
    if head.isascii():
        return False
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    wide = [ch for ch in text if ord(ch) > 127]
    cjk = sum(1 for ch in wide if _is_cjk(ch))
    return bool(wide) and cjk >= 0.8 * len(wide)


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


class Utf8Recoder(io.RawIOBase):
    """A raw stream of UTF-8 bytes read from ``inner`` in another encoding.

    Undecodable bytes become U+FFFD so the line that holds them is reported (with its number) by
    the text checks instead of failing the whole file at an unknown place.
    """

    def __init__(self, inner: BinaryIO, encoding: str) -> None:
        self._inner = inner
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._eof:
            chunk = self._inner.read(1 << 20)
            self._eof = not chunk
            self._pending = self._decoder.decode(chunk, final=self._eof).encode("utf-8")
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def recode_to_utf8(stream: BinaryIO, encoding: str) -> BinaryIO:
    """``stream`` as UTF-8 bytes (unchanged when it already is UTF-8)."""
    if encoding in ("utf-8", "utf-8-sig", "ascii"):
        return stream
    return cast(BinaryIO, io.BufferedReader(Utf8Recoder(stream, encoding), buffer_size=1 << 20))
