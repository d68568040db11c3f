"""Cheap per-record checks on raw UTF-8 bytes: NUL bytes, replacement characters, mojibake.

Each returns ``None`` or a ``RecordError`` (without file/line; the reader adds them). The checks
are one C-level regex scan per record; they run before JSON parsing so the message says what is
wrong with the text rather than "unexpected character".
"""

from __future__ import annotations

import re

from .errors import RecordError

__all__ = ["check_text", "next_suspect"]

# UTF-8 text decoded as Latin-1/cp1252 and saved again: each multi-byte character became a lead
# letter (Â..ß for 2-byte, à..ï for 3-byte, ð..ô for 4-byte sequences) followed by exactly the
# right number of "continuation" characters (U+0080..U+00BF, or the cp1252 punctuation those
# bytes map to). Requiring the full count keeps real text such as "aquí”" from matching.
_CONT = (
    rb"(?:\xc2[\x80-\xbf]|\xe2\x80[\x93-\xba]|\xe2\x82\xac|\xe2\x84\xa2"
    rb"|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xcb[\x86\x9c]|\xc6\x92)"
)
_MOJIBAKE = re.compile(
    rb"\xc3[\x82-\x9f]"
    + _CONT
    + rb"|\xc3[\xa0-\xaf]"
    + _CONT
    + rb"{2}|\xc3[\xb0-\xb4]"
    + _CONT
    + rb"{3}"
)


def check_text(raw: bytes, file: str, line: int, col0: int = 1) -> RecordError | None:
    """A problem with the text of one record, or ``None``.

    ``raw`` is the record's UTF-8 bytes, starting at ``line``/``col0`` of ``file``; the error's
    line and column point at the first offending character.
    """
    if next_suspect(raw, 0) < 0:
        return None
    err = _problem(raw)
    if err is not None:
        pos = err.column or 0  # _problem stores the byte offset here; turn it into line/column
        rel = raw.count(b"\n", 0, pos)
        err.file, err.line = file, line + rel
        err.column = _column(raw, pos) + (col0 - 1 if rel == 0 else 0)
    return err


def next_suspect(data: bytes, pos: int) -> int:
    """Offset of the first byte at or after ``pos`` that may start a text problem, or -1.

    Three memchr-speed ``find`` calls (the regex runs only where a Latin-1 lead byte occurs), so
    clean data costs almost nothing to check.
    """
    hits = [i for i in (data.find(b"\x00", pos), data.find(b"\xef\xbf\xbd", pos)) if i >= 0]
    if data.find(b"\xc3", pos) >= 0:
        m = _MOJIBAKE.search(data, pos)
        if m is not None:
            hits.append(m.start())
    return min(hits) if hits else -1


def _problem(raw: bytes) -> RecordError | None:
    nul = raw.find(b"\x00")
    if nul >= 0:
        return RecordError(
            "nul_bytes",
            "the record contains NUL bytes (\\x00): this is binary data, UTF-16 text without a "
            "byte-order mark, or a damaged file.",
            column=nul,
            hint="re-export the file as UTF-8 text, or pass --encoding utf-16 if it is UTF-16",
        )
    bad = raw.find(b"\xef\xbf\xbd")
    if bad >= 0:
        return RecordError(
            "encoding",
            "the record contains U+FFFD replacement characters: bytes were lost when the text was "
            "decoded with the wrong encoding.",
            column=bad,
            hint="pass --encoding with the file's real encoding (e.g. gb18030), fix the source, or pass --no-check-text to keep the text as it is",
        )
    moji = _MOJIBAKE.search(raw)
    if moji is not None:
        return RecordError(
            "mojibake",
            f"the record contains mojibake ('{_show(raw, moji.start())}'): UTF-8 text was decoded "
            "as Latin-1/cp1252 and saved again.",
            column=moji.start(),
            hint="re-export the source as UTF-8, repair it (e.g. ftfy.fix_text), or pass --no-check-text to keep the text as it is",
        )
    return None


def _column(raw: bytes, pos: int) -> int:
    """1-based character column of byte ``pos`` within the record's line."""
    start = raw.rfind(b"\n", 0, pos) + 1
    return len(raw[start:pos].decode("utf-8", errors="replace")) + 1


def _show(raw: bytes, pos: int) -> str:
    return raw[pos : pos + 12].decode("utf-8", errors="replace").split("\n")[0]
