"""CSV and TSV with a header row: each row becomes a ``dict[str, str]`` keyed by the header.

Values stay strings (what a column means is the format's business: LitGPT's 3-column CSV, a
``messages`` column holding JSON...). A row with more or fewer fields than the header is a record
error naming the row's first line. Quoted fields may span lines; ``line`` is where the row starts.
The writer's header is the union of the first 1000 records' keys; nested values are written as JSON.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from ..errors import ConversionError, InputError
from .errors import RecordError
from .record import RawRecord
from .textcheck import check_text

if TYPE_CHECKING:
    import csv

__all__ = ["DelimitedWriter", "iter_delimited"]


# csv is imported where a CSV/TSV file is read or written: other inputs do not need it
def _rows(text: io.TextIOWrapper, delimiter: str) -> csv.DictReader[str]:
    import csv

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    return csv.DictReader(text, delimiter=delimiter, strict=False)


def iter_delimited(
    stream: BinaryIO, file: str, *, delimiter: str, max_record_bytes: int, check: bool = True
) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    try:
        yield from _delimited_records(text, file, delimiter, max_record_bytes, check)
    finally:
        # ``stream`` belongs to the caller (``Opened`` closes it): let go of it, so the wrapper
        # neither closes it nor warns that it was left open when it is collected
        with contextlib.suppress(ValueError):
            text.detach()


def _delimited_records(
    text: io.TextIOWrapper, file: str, delimiter: str, max_record_bytes: int, check: bool
) -> Iterator[RawRecord]:
    import csv

    reader = _rows(text, delimiter)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InputError(f"cannot read the CSV header ({exc}).", file=file, line=1) from None
    if not header:
        raise InputError("the file is empty: there are no records to read.", file=file)
    width = len(header)
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = last + 1
            last = reader.line_num
            err = RecordError(
                "invalid_csv",
                f"malformed CSV row ({exc}).",
                file=file,
                line=line,
                hint="check the quoting of this row",
            )
            yield RawRecord(None, file, line, None, err)
            continue
        line, last = last + 1, reader.line_num
        raw = _raw(row, delimiter)
        problem = check_text(raw.encode("utf-8"), file, line, json=False) if check else None
        if problem is not None:
            yield RawRecord(None, file, line, raw, problem)
            continue
        extra = row.pop(None, None)
        missing = [k for k, v in row.items() if v is None]
        if extra or missing:
            got = width + len(extra or ()) - len(missing)
            err = RecordError(
                "invalid_csv",
                f"the row has {got} fields but the header has {width}.",
                file=file,
                line=line,
                hint="quote fields that contain the delimiter, or fix the row",
            )
            yield RawRecord(None, file, line, raw, err)
            continue
        if len(raw) > max_record_bytes:
            from .jsonl import too_large

            yield RawRecord(
                None, file, line, None, too_large(file, line, len(raw), max_record_bytes)
            )
            continue
        yield RawRecord(row, file, line, None)


def _raw(row: dict[Any, Any], delimiter: str) -> str:
    values: list[str] = [v for k, v in row.items() if k is not None and v is not None]
    values += row.get(None) or []
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(values)
    return out.getvalue()


class DelimitedWriter:
    """CSV/TSV. The header is the union of the keys of the first ``_HEAD`` rows (a row without a
    key gets an empty cell); a later row with a key outside the header is refused, never cut."""

    _HEAD = 1000

    def __init__(self, out: BinaryIO, delimiter: str) -> None:
        import csv

        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._writer = csv.writer(self._text, delimiter=delimiter, lineterminator="\n")
        self._header: list[str] | None = None
        self._known: set[str] = set()
        self._pending: list[dict[str, Any]] = []

    def write(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise ConversionError(
                f"a CSV/TSV row must be an object, got {type(value).__name__}.",
                hint="write this format to .jsonl or .json instead",
            )
        if self._header is None:
            self._pending.append(value)
            if len(self._pending) >= self._HEAD:
                self._start()
            return
        if not self._known.issuperset(value):
            new = sorted(set(value) - self._known)
            raise ConversionError(
                f"CSV/TSV needs one header for the file: column(s) {', '.join(new)} first appear "
                f"after the header {self._header} was written.",
                hint="write to .jsonl or .json instead",
            )
        self._writer.writerow([_cell(value.get(k)) for k in self._header])

    def _start(self) -> None:
        header: dict[str, None] = {}
        for row in self._pending:
            header.update(dict.fromkeys(row))
        self._header, self._known = list(header), set(header)
        if self._header:
            self._writer.writerow(self._header)
        rows, self._pending = self._pending, []
        for row in rows:
            self._writer.writerow([_cell(row.get(k)) for k in self._header])

    def close(self) -> None:
        if self._header is None:
            self._start()
        self._text.flush()
        self._text.detach()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return orjson.dumps(v).decode("utf-8")
