"""Reading the input of ``lint``: records through ``sftforge.io`` (every container: JSONL, JSON,
Parquet, CSV, .xlsx...), then Samples, unvalidated; ``columns`` maps fields to parts.

Lint cannot use ``sftforge.read`` (which ``export`` uses): that reader refuses a sample with a bad
role order, and reporting those is lint's job. The records come from the io layer
(``sftforge.io.read_records``: every container, compression and encoding, and the same per-record
errors as ``convert``; text checks off, since those are lint findings). Records become Samples through the format
registry's detection (the canonical ``sftforge`` form, alpaca, sharegpt, openai...), which checks
types; a record it cannot read is kept apart and reported. Tokenized rows (``input_ids``) are returned as records for the checks on ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError, InputError, SftforgeError
from ..sample import Sample

__all__ = [
    "Unreadable",
    "is_tokenized",
    "parse_records",
    "read_records",
    "read_samples",
    "records_to_samples",
]


def read_records(path: Path) -> list[Any]:
    """Every record of the file, in order, read by the io layer (containers, compression,
    encodings and its per-record errors: the messages ``convert`` gives); the first record
    that cannot be read raises its error (file, line, fix)."""
    from ..io import read_records as read_raw

    if not path.is_file():
        raise InputError(f"no such file: '{path}'", file=str(path))
    records = []
    with read_raw(str(path), check_text=False) as source:  # text problems are lint findings
        for rec in source:
            if rec.error is not None:
                raise rec.error
            records.append(rec.value)
    return records


def is_tokenized(records: list[Any]) -> bool:
    return bool(records) and isinstance(records[0], dict) and "input_ids" in records[0]


@dataclass(slots=True)
class Unreadable:
    """A record the format could not turn into a Sample (0-based ``row``), with the reason."""

    row: int
    error: SftforgeError


def parse_records(
    records: list[Any], *, source: str = "", columns: str | None = None
) -> tuple[list[tuple[int, Sample]], list[Unreadable]]:
    """Every record as ``(row, Sample)``; the ones that cannot be read are returned apart.

    Lint reports an unreadable record (e.g. tool-call arguments that are not JSON) as a finding
    and goes on with the others, where ``convert`` would stop or reject it. ``columns``: a
    column mapping (``sftforge.formats.columns``) instead of detection.
    """
    from ..formats import detect_format, get_format
    from ..formats.columns import ColumnMap

    if columns is not None:
        fmt = ColumnMap.coerce(columns).format()
        name = fmt.name
    else:
        try:
            name, _ = detect_format(records)
        except FormatError as exc:
            exc.file = exc.file or source or None
            raise
        fmt = get_format(name)
    if fmt.kind != "sample":
        raise FormatError(f"'{source}' holds {name} documents, not conversations", file=source)
    good: list[tuple[int, Sample]] = []
    bad: list[Unreadable] = []
    for i, rec in enumerate(records):
        try:
            good.append((i, fmt.parse(rec)))
        except FormatError as exc:
            exc.file, exc.line = source, i + 1
            bad.append(Unreadable(i, exc))
    return good, bad


def records_to_samples(records: list[Any], *, source: str = "") -> list[Sample]:
    """Canonical Sample dicts as they are; any other layout through format detection.

    The first record that cannot be read raises its ``FormatError`` (file and line set).
    """
    good, bad = parse_records(records, source=source)
    if bad:
        raise bad[0].error
    return [s for _, s in good]


def read_samples(path: Path) -> list[Sample]:
    return records_to_samples(read_records(path), source=str(path))
