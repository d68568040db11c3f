"""JSON Lines: one JSON value per line. Blank lines are skipped; CRLF endings are accepted.

Each line goes to ``orjson`` as bytes (no decode to ``str`` first). A line that is not JSON, holds
NUL bytes or mojibake, or is longer than ``max_record_bytes`` becomes a ``RawRecord`` with
``error`` set and the reader carries on with the next line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from ..errors import InputError
from .dupkeys import duplicate_keys_error, hides_duplicate_keys
from .encoding import guess_line_encoding
from .errors import RecordError
from .pieces import Lines, Records
from .record import RawRecord
from .textcheck import check_text, newlines, next_suspect

__all__ = [
    "JsonlSplitter",
    "JsonlWriter",
    "iter_jsonl",
    "json_error",
    "lines_records",
    "lines_values",
]


def json_error(
    exc: orjson.JSONDecodeError, raw: bytes, file: str, line: int, col0: int = 1
) -> RecordError:
    """A ``RecordError`` for a JSON parse failure of ``raw``, which starts at ``line``/``col0``."""
    msg = exc.msg
    lineno, colno = exc.lineno, exc.colno
    # column counts characters on the failing line, the way editors do
    abs_line = line + lineno - 1
    column = colno + col0 - 1 if lineno == 1 else colno
    body = raw.strip()
    if not body:
        return RecordError("invalid_json", "empty record.", file=file, line=line, hint="remove it")
    if msg.startswith("str is not valid UTF-8"):
        try:
            raw.decode("utf-8")
            pos = 0
        except UnicodeDecodeError as uerr:
            pos = uerr.start
        start = raw.rfind(b"\n", 0, pos) + 1
        end = raw.find(b"\n", pos)
        guess = guess_line_encoding(raw[start : len(raw) if end < 0 else end])
        seen = ""
        hint = "pass --encoding with the file's real encoding (e.g. gb18030, latin-1), or re-export it as UTF-8"
        if guess is not None:
            codec, text = guess
            seen = f" As {codec} it reads '{_around(text, len(raw[start:pos].decode(codec, 'replace')))}'."
            hint = (
                f"re-save this line as UTF-8 (other lines of the file read as UTF-8: mixed "
                f"encodings), or pass --encoding {codec} if the whole file is {codec}"
            )
        return RecordError(
            "encoding",
            f"invalid UTF-8 byte 0x{raw[pos]:02x}: this part of the file is in another encoding.{seen}",
            file=file,
            line=line + raw.count(b"\n", 0, pos),
            column=len(raw[start:pos].decode("utf-8", errors="replace")) + 1,
            hint=hint,
        )
    if msg.startswith("number is infinity"):
        # a valid JSON number (e.g. an integer of 5000 digits, or 1e400) beyond what a double
        # holds: JSON allows it, but no reader here (or any trainer) can keep it as a number
        end = pos = exc.pos
        while end < len(raw) and raw[end : end + 1] in b"+-.eE0123456789":
            end += 1
        return RecordError(
            "invalid_json",
            f"the number here has {end - pos} characters and is beyond the range of a JSON "
            "number as readers hold it (a 64-bit float, at most about 1.8e308).",
            file=file,
            line=abs_line,
            column=column,
            hint="write it as a string (in quotes) if it must be kept exactly",
        )
    if msg.startswith("trailing comma"):
        return RecordError(
            "trailing_comma",
            "trailing comma before a closing bracket (not allowed in JSON).",
            file=file,
            line=abs_line,
            column=column,
            hint="remove the comma after the last item",
        )
    if msg.startswith(("unexpected end of data", "EOF")):
        return RecordError(
            "truncated",
            "the JSON value is cut off (unexpected end of data).",
            file=file,
            line=abs_line,
            column=column,
            hint="the record is incomplete (a truncated file or a value split over lines); repair or remove it",
        )
    return RecordError(
        "invalid_json",
        f"invalid JSON: {msg}.",
        file=file,
        line=abs_line,
        column=column,
        hint="fix the JSON at that position (e.g. a missing quote, comma or bracket)",
    )


def _around(text: str, at: int) -> str:
    """About 30 characters of ``text`` around index ``at``, for an error message."""
    lo = max(0, at - 12)
    return ("…" if lo else "") + text[lo : lo + 30] + ("…" if lo + 30 < len(text) else "")


def too_large(file: str, line: int, size: int, limit: int) -> RecordError:
    return RecordError(
        "too_large",
        f"the record is {size / 2**20:.1f} MiB, more than the {limit / 2**20:.0f} MiB limit for one record.",
        file=file,
        line=line,
        hint="if the file is not really one record per line, pass the right --container; "
        "otherwise raise the limit with --max-record-mb (Python: max_record_bytes=)",
    )


_CHUNK = 1 << 18  # bytes per block: orjson briefly allocates ~10x what it parses


def _one(raw: bytes, file: str, lineno: int, limit: int, check: bool) -> RawRecord | None:
    """One line, checked and parsed on its own; None for a blank line."""
    if len(raw) > limit:
        return RawRecord(None, file, lineno, None, too_large(file, lineno, len(raw), limit))
    try:
        value: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None
        err = check_text(raw, file, lineno) or json_error(exc, raw, file, lineno)
        return RawRecord(None, file, lineno, _text(raw), err)
    problem = check_text(raw, file, lineno) if check else None
    if problem is None and hides_duplicate_keys(raw, value):
        problem = duplicate_keys_error(raw, file, lineno)
    if problem is not None:
        return RawRecord(None, file, lineno, _text(raw), problem)
    return RawRecord(value, file, lineno, None)


def lines_values(block: bytes, limit: int, check: bool, lines: int = -1) -> list[Any] | None:
    """All lines of ``block`` (``lines`` of them, when the caller counted) parsed by one orjson
    call, or None when any line needs a closer look (blank, invalid, suspicious text, several
    values on one line, over the limit)."""
    if len(block) > limit or (check and next_suspect(block, 0) >= 0):
        return None
    try:
        values = orjson.loads(b"".join((b"[", block.replace(b"\n", b","), b"]")))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(values, list):
        return None
    if len(values) != (lines if lines >= 0 else block.count(b"\n") + 1):
        return None
    if hides_duplicate_keys(block, values):
        return None  # line by line, so the record with the repeated key is rejected
    return values


def lines_records(
    block: bytes, file: str, first: int, limit: int, check: bool, lines: int = -1
) -> list[RawRecord]:
    """The records of the lines of ``block``, the first being line ``first``: exactly what
    ``iter_jsonl`` yields for them (a blank line is no record but still counts as a line)."""
    values = lines_values(block, limit, check, lines)
    if values is not None:
        return [RawRecord(value, file, line, None) for line, value in enumerate(values, first)]
    out = []
    for lineno, raw in enumerate(block.split(b"\n"), first):
        rec = _one(raw, file, lineno, limit, check)
        if rec is not None:
            out.append(rec)
    return out


class JsonlSplitter:
    """A JSONL stream cut into blocks of whole lines (``Lines`` pieces), read ``_CHUNK`` bytes at
    a time. ``records()`` parses each block (one orjson call for the common, clean block; line by
    line when a block fails, so every bad line gets its own error); ``pieces()`` hands over the
    rest of the stream unparsed. A line longer than ``max_record_bytes`` is skipped without being
    held in memory and reported as ``too_large``."""

    def __init__(
        self, stream: BinaryIO, file: str, *, max_record_bytes: int, check: bool = True
    ) -> None:
        self.stream = stream
        self.file = file
        self.limit = max_record_bytes
        self.check = check
        self._blocks = self._split()
        self._rest: Iterator[RawRecord] | None = None  # records of the block being read

    def _split(self) -> Iterator[RawRecord | Lines]:
        # read1: a broken compressed stream then still hands over what came before the break
        stream, file, limit = self.stream, self.file, self.limit
        read = getattr(stream, "read1", stream.read)
        lineno = 0
        parts: list[bytes] = []  # the current unfinished line
        held = 0  # its length so far
        oversized = False
        try:
            while True:
                chunk = read(_CHUNK)
                if not chunk:
                    break
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    held += len(chunk)
                    oversized = oversized or held > limit
                    if not oversized:
                        parts.append(chunk)
                    else:
                        parts.clear()
                    continue
                first_nl = chunk.find(b"\n")
                if oversized:
                    held += first_nl
                    lineno += 1
                    yield RawRecord(None, file, lineno, None, too_large(file, lineno, held, limit))
                    block = chunk[first_nl + 1 : cut]
                    oversized, parts = False, []
                    if cut == first_nl:
                        parts, held = [chunk[cut + 1 :]], len(chunk) - cut - 1
                        continue
                else:
                    block = b"".join([*parts, chunk[:cut]])
                parts, held = [chunk[cut + 1 :]], len(chunk) - cut - 1
                count = newlines(block) + 1
                yield Lines(block, lineno + 1, count)
                lineno += count
            tail = b"".join(parts)
            if oversized:
                lineno += 1
                yield RawRecord(None, file, lineno, None, too_large(file, lineno, held, limit))
            elif tail:
                lineno += 1
                yield Lines(tail, lineno, 1)
        except InputError as exc:
            exc.file = exc.file or file
            exc.line = exc.line or lineno + 1
            raise

    def records(self) -> Iterator[RawRecord]:
        for piece in self._blocks:
            if type(piece) is Lines:
                self._rest = iter(
                    lines_records(
                        piece.data, self.file, piece.line, self.limit, self.check, piece.count
                    )
                )
                yield from self._rest
            else:
                yield piece  # type: ignore[misc]

    def pieces(self) -> Iterator[Lines | Records]:
        """The part not read by ``records()`` yet: the rest of its block, then unparsed blocks."""
        if self._rest is not None:
            rest, self._rest = list(self._rest), None
            if rest:
                yield Records(rest)
        for piece in self._blocks:
            yield piece if type(piece) is Lines else Records([piece])  # type: ignore[list-item]


def iter_jsonl(
    stream: BinaryIO, file: str, *, max_record_bytes: int, check: bool = True
) -> Iterator[RawRecord]:
    """The records of a JSONL stream (see ``JsonlSplitter``)."""
    return JsonlSplitter(stream, file, max_record_bytes=max_record_bytes, check=check).records()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


class JsonlWriter:
    """Writes one compact JSON value per line (UTF-8, non-ASCII kept as is)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._buf: list[bytes] = []

    def write(self, value: Any) -> None:
        self._buf.append(orjson.dumps(value))
        if len(self._buf) >= 1024:
            self.flush()

    joiner = b"\n"  # between the values of one blob (see write_blob)

    def write_blob(self, blob: bytes) -> None:
        """Write values already serialised and joined by ``joiner`` (a batch from a worker)."""
        self.flush()
        self._out.write(blob)
        self._out.write(b"\n")

    def flush(self) -> None:
        if self._buf:
            self._out.write(b"\n".join(self._buf) + b"\n")
            self._buf.clear()

    def close(self) -> None:
        self.flush()
