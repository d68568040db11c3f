"""``sftforge validate FILE``: exit 1 when any record cannot be read, parsed or validated."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import SftforgeError
from ._common import CheckText, Columns, MaxRecordMb, max_record_options
from .main import app

__all__ = ["validate"]


def text_summary(
    errors: list[SftforgeError], by_reason: dict[str, int], encoding: str | None
) -> list[str]:
    """One line each for mixed encodings and mojibake, which per-record lines alone hide: how
    many records, and where the first ones are."""

    def lines(kind: str) -> str:
        found = [str(e.line) for e in errors if getattr(e, "kind", None) == kind and e.line]
        more = ", ..." if by_reason.get(kind, 0) > len(found[:5]) else ""
        return ", ".join(found[:5]) + more

    out = []
    if by_reason.get("encoding") and encoding in ("utf-8", "utf-8-sig"):
        out.append(
            f"mixed encodings: the file reads as UTF-8, but {by_reason['encoding']} record(s) are "
            f"in another encoding (lines {lines('encoding')}); each line above says what it looks "
            "like. Fix: re-save those lines as UTF-8"
        )
    if by_reason.get("mojibake"):
        out.append(
            f"mojibake: {by_reason['mojibake']} record(s) hold UTF-8 text that was decoded as "
            f"Latin-1/cp1252 and saved again (lines {lines('mojibake')}). Fix: repair them "
            "(e.g. ftfy.fix_text, or the fix_mojibake step) or re-export the source as UTF-8"
        )
    return out


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
    from ..api import read

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
    for line in text_summary(reader.errors, stats.by_reason, reader.source.encoding):
        typer.echo(line)
    verdict = "ok" if not stats.rejected else f"{stats.rejected} invalid"
    if found:
        verdict += f", {len(found)} problem{'s' * (len(found) > 1)} outside the records"
    typer.echo(
        f"{reader.name}: {reader.format.name}, {stats.read} records, {stats.ok} valid, {verdict}",
        err=True,
    )
    if stats.rejected or found:
        raise typer.Exit(1)
