"""Shared CLI helpers: progress bars (stderr, only on a terminal) and the read/write summary."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from ..api import Reader

__all__ = ["CheckText", "Columns", "MaxRecordMb", "max_record_options", "progress", "summary"]

_EVERY = 2048

CheckText = Annotated[
    bool,
    typer.Option(
        "--check-text/--no-check-text",
        help="reject records with NUL bytes, control characters, U+FFFD or mojibake (default) or keep them as they are",
    ),
]

Columns = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="column mapping instead of --from: SOURCE=PART,... e.g. 问题=prompt,答案=response "
        "(parts: prompt, query, response, system, history, messages, chosen, rejected, tools, "
        "label, id, meta.NAME; nested fields as data.q or turns[0].text)",
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
    """Yield ``items``, showing a progress bar (bytes of ``reader``'s input) on a terminal."""
    if not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[n]} records"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        total = reader.progress()[1]
        task = bar.add_task(label, total=total, n=0)
        for i, item in enumerate(items, 1):
            if i % _EVERY == 0:
                bar.update(task, completed=reader.progress()[0], n=i)
            yield item


def summary(read: int, written: int, rejected: int, losses: dict[str, int] | None = None) -> None:
    """The line every run prints: ``read N = written W + rejected R`` (to stderr)."""
    typer.echo(f"read {read} = written {written} + rejected {rejected}", err=True)
    if losses:
        lost = ", ".join(f"{k} {v}" for k, v in sorted(losses.items()))
        typer.echo(f"lost (--allow-lossy): {lost}", err=True)
