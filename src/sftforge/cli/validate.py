"""``sftforge validate FILE``: exit 1 when any record cannot be read, parsed or validated."""

from __future__ import annotations

from typing import Annotated

import typer

from ..api import read
from ._common import CheckText, Columns, MaxRecordMb, max_record_options
from .main import app

__all__ = ["validate"]


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="dataset file, or - for stdin")],
    from_: Annotated[
        str | None, typer.Option("--from", help="input format; detected when not given")
    ] = None,
    columns: Columns = None,
    container: Annotated[str | None, typer.Option("--container", help="input container")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="input encoding")] = None,
    check_text: CheckText = True,
    max_record_mb: MaxRecordMb = None,
) -> None:
    """Check every record of FILE; list each problem as file:line and exit 1 if there is any."""
    with read(
        file,
        from_,
        on_error="skip",
        container=container,
        encoding=encoding,
        check_text=check_text,
        columns=columns,
        **max_record_options(max_record_mb),
    ) as reader:
        for _ in reader:
            pass
    stats = reader.stats
    found = reader.notices  # stray commas: not records, but strict JSON readers refuse the file
    for err in [*reader.errors, *found]:
        typer.echo(str(err))
    if stats.rejected > len(reader.errors):
        typer.echo(f"... and {stats.rejected - len(reader.errors)} more problems")
    verdict = "ok" if not stats.rejected else f"{stats.rejected} invalid"
    if found:
        verdict += f", {len(found)} problem{'s' * (len(found) > 1)} outside the records"
    typer.echo(
        f"{reader.name}: {reader.format.name}, {stats.read} records, {stats.ok} valid, {verdict}",
        err=True,
    )
    if stats.rejected or found:
        raise typer.Exit(1)
