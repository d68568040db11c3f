"""Excel ``.xlsx`` workbooks (openpyxl, read-only streaming): each row after the header is a record.

The first sheet is read; its first non-empty row is the header. Each later row becomes a dict keyed
by the header, ``line`` being the row number Excel shows. Values keep their cell types (numbers,
booleans; dates and times as ISO text, so they survive JSON); an empty cell is ``None``, and a
row whose cells are all empty is skipped. A value in a column without a header is a record error
(it would otherwise be lost). ``.xls`` (Excel 97-2003) has no maintained reader here: it is refused
with the fix (save as ``.xlsx`` or ``.csv``). Workbooks are not written.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from ..errors import InputError
from .errors import RecordError
from .record import RawRecord

__all__ = ["iter_xlsx", "refuse_xls"]


def refuse_xls(file: str) -> InputError:
    return InputError(
        "cannot read .xls (the Excel 97-2003 format).",
        file=file,
        hint="open it in Excel, WPS or LibreOffice and save it as .xlsx or .csv",
    )


def _cell(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def _header(row: tuple[Any, ...]) -> list[str | None]:
    names: list[str | None] = []
    for value in row:
        name = None if value is None else str(_cell(value)).strip()
        names.append(name or None)
    return names


def iter_xlsx(source: BinaryIO, file: str) -> Iterator[RawRecord]:
    import zipfile

    import openpyxl  # (a core dependency; imported here so other inputs do not pay for it)

    if not source.seekable():
        source = io.BytesIO(source.read())
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"not a readable .xlsx workbook ({exc}).",
            file=file,
            hint="open it in Excel and save it again as .xlsx, or export it as .csv",
        ) from None
    try:
        yield from _rows(book.worksheets[0], file)
    finally:
        book.close()


def _rows(sheet: Any, file: str) -> Iterator[RawRecord]:
    header: list[str | None] | None = None
    for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        if header is None:
            header = _header(row)
            named = [h for h in header if h is not None]
            if len(set(named)) != len(named):
                dup = sorted({h for h in named if named.count(h) > 1})
                raise InputError(
                    f"the header row has the column name(s) {', '.join(dup)} twice.",
                    file=file,
                    line=number,
                    hint="give every column a unique name",
                )
            continue
        record: dict[str, Any] = {}
        stray = None
        for i, value in enumerate(row):
            name = header[i] if i < len(header) else None
            if name is None:
                if value is not None and stray is None:
                    stray = i + 1
                continue
            record[name] = _cell(value)
        for name in header[len(row) :]:
            if name is not None:
                record[name] = None
        if stray is not None:
            err = RecordError(
                "invalid_row",
                f"column {stray} has a value but no header.",
                file=file,
                line=number,
                hint="give the column a name in the header row, or clear it",
            )
            raw = orjson.dumps([_cell(v) for v in row]).decode("utf-8")
            yield RawRecord(None, file, number, raw, err)
            continue
        yield RawRecord(record, file, number, None)
    if header is None:
        raise InputError("the workbook's first sheet is empty.", file=file)
