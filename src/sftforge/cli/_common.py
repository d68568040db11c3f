"""Shared CLI helpers: progress bars (stderr, only on a terminal) and the read/write summary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import typer

from ..api import Reader

__all__ = ["progress", "summary"]

_EVERY = 2048


def progress(reader: Reader, label: str) -> Iterator[Any]:
    """Yield the reader's items, showing a byte-based progress bar on an interactive stderr."""
    if not sys.stderr.isatty():
        yield from reader
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
        for i, item in enumerate(reader, 1):
            if i % _EVERY == 0:
                bar.update(task, completed=reader.progress()[0], n=i)
            yield item


def summary(read: int, written: int, rejected: int, losses: dict[str, int] | None = None) -> None:
    """The line every run prints: ``read N = written W + rejected R`` (to stderr)."""
    typer.echo(f"read {read} = written {written} + rejected {rejected}", err=True)
    if losses:
        lost = ", ".join(f"{k} {v}" for k, v in sorted(losses.items()))
        typer.echo(f"lost (--allow-lossy): {lost}", err=True)
