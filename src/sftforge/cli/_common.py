"""Shared CLI helpers: the reading progress bar and the read/write summary (``sftforge.progress``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from ..api import Reader
from ..progress import note, track

__all__ = ["CheckText", "MaxRecordMb", "max_record_options", "progress", "summary"]

_EVERY = 2048

CheckText = Annotated[
    bool,
    typer.Option(
        "--check-text/--no-check-text",
        help="reject records with NUL bytes, control characters, U+FFFD or mojibake (default) or keep them as they are",
    ),
]

MaxRecordMb = Annotated[
    int | None,
    typer.Option(
        "--max-record-mb",
        min=1,
        help="largest record to read, in MiB (default 32); a longer one is rejected as too_large",
    ),
]


def max_record_options(mb: int | None) -> dict[str, Any]:
    """The reader option for ``--max-record-mb`` (nothing when not given: the default applies)."""
    return {} if mb is None else {"max_record_bytes": mb * 2**20}


def progress(items: Iterable[Any], reader: Reader, label: str = "reading") -> Iterator[Any]:
    """Yield ``items``, showing progress by bytes of ``reader``'s input (``sftforge.progress``)."""
    return track(items, label, sizes=reader.progress, every=_EVERY)


def summary(read: int, written: int, rejected: int, losses: dict[str, int] | None = None) -> None:
    """The line every run prints: ``read N = written W + rejected R`` (to stderr)."""
    note(f"read {read} = written {written} + rejected {rejected}")
    if losses:
        lost = ", ".join(f"{k} {v}" for k, v in sorted(losses.items()))
        note(f"lost (--allow-lossy): {lost}")
