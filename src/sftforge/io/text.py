"""Plain text: each record is ``{"text": ...}``.

Split policy (``text_mode``), the same three as Hugging Face ``datasets``' text loader:

- ``line`` (default for ``read``): one record per non-blank line, line endings removed.
- ``paragraph``: records separated by one or more blank lines; lines inside keep their ``\\n``.
- ``document`` (default for ``read_documents``): the whole file is one record.

``line`` is the record's first line. The writer writes one text per line (``line``), or texts
separated by a blank line (``paragraph``/``document``); a text that would not survive the split
(a newline in ``line`` mode, a blank line in ``paragraph`` mode) is refused rather than mangled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import ConversionError, InputError
from .jsonl import too_large
from .record import RawRecord
from .textcheck import check_text

__all__ = ["TEXT_MODES", "TextWriter", "iter_text"]

TEXT_MODES: tuple[str, ...] = ("line", "paragraph", "document")


def _record(raw: bytes, file: str, line: int, limit: int, check: bool = True) -> RawRecord:
    if len(raw) > limit:
        return RawRecord(None, file, line, None, too_large(file, line, len(raw), limit))
    problem = check_text(raw, file, line, json=False) if check else None
    text = raw.decode("utf-8", errors="replace")
    if problem is not None:
        return RawRecord(None, file, line, text, problem)
    return RawRecord({"text": text}, file, line, None)


def iter_text(
    stream: BinaryIO, file: str, *, mode: str = "line", max_record_bytes: int, check: bool = True
) -> Iterator[RawRecord]:
    if mode not in TEXT_MODES:
        raise InputError(
            f"unknown text mode '{mode}'.", hint=f"use one of: {', '.join(TEXT_MODES)}"
        )
    if mode == "document":
        raw = stream.read(max_record_bytes + 1).replace(b"\r\n", b"\n").strip()
        yield _record(raw, file, 1, max_record_bytes, check)
        return
    lineno = 0
    para: list[bytes] = []
    para_line = 0
    for raw in stream:
        lineno += 1
        body = raw.rstrip(b"\r\n")
        if mode == "line":
            if body.strip():
                yield _record(body, file, lineno, max_record_bytes, check)
            continue
        if body.strip():
            if not para:
                para_line = lineno
            para.append(body)
        elif para:
            yield _record(b"\n".join(para), file, para_line, max_record_bytes, check)
            para = []
    if para:
        yield _record(b"\n".join(para), file, para_line, max_record_bytes, check)


class TextWriter:
    def __init__(self, out: BinaryIO, mode: str = "line") -> None:
        self._out = out
        self._mode = mode
        self._first = True

    def write(self, value: Any) -> None:
        text = value.get("text") if isinstance(value, dict) else value
        if not isinstance(text, str):
            raise ConversionError(
                "a plain-text record needs a string 'text'.", hint="write to .jsonl instead"
            )
        if self._mode == "line" and "\n" in text:
            raise ConversionError(
                "a text with a line break cannot be written one per line to .txt.",
                hint="write to .jsonl, or use text_mode='paragraph'",
            )
        if self._mode != "line" and "\n\n" in text.strip("\n"):
            raise ConversionError(
                "a text with a blank line cannot be written as one paragraph to .txt.",
                hint="write to .jsonl instead",
            )
        sep = b"" if self._first else (b"\n" if self._mode == "line" else b"\n\n")
        self._out.write(sep + text.encode("utf-8"))
        self._first = False

    def close(self) -> None:
        if not self._first:
            self._out.write(b"\n")
