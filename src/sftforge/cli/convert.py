"""``sftforge convert IN OUT --to FORMAT``: read any supported file, write it in another format."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Annotated

import typer

from ..progress import note
from ._common import (
    CheckText,
    Columns,
    MaxRecordMb,
    OnError,
    Strict,
    error_policy,
    max_record_options,
    notices,
    progress,
    rejects_summary,
    summary,
)
from .main import app

if TYPE_CHECKING:
    from ..api import Reader

__all__ = ["convert"]


def default_rejects(out: str) -> str:
    """Where rejects go when ``--rejects`` is not given: next to the output."""
    return "sftforge.rejects.jsonl" if out == "-" else f"{out}.rejects.jsonl"


@app.command()
def convert(
    src: Annotated[str, typer.Argument(metavar="IN", help="input file, or - for stdin")],
    out: Annotated[str, typer.Argument(metavar="OUT", help="output file, or - for stdout")],
    to: Annotated[str, typer.Option("--to", help="output format (e.g. sharegpt, openai, alpaca)")],
    from_: Annotated[
        str | None, typer.Option("--from", help="input format; detected when not given")
    ] = None,
    columns: Columns = None,
    allow_lossy: Annotated[
        bool,
        typer.Option(
            "--allow-lossy", help="drop what the output format cannot carry, and count it"
        ),
    ] = False,
    strict: Strict = False,
    on_error: OnError = None,
    rejects: Annotated[
        str | None, typer.Option("--rejects", help="rejects file (default: OUT.rejects.jsonl)")
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container", help="input container: jsonl, json, csv, tsv, parquet, arrow, txt"
        ),
    ] = None,
    out_container: Annotated[
        str | None,
        typer.Option("--out-container", help="output container (default: from OUT's name)"),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="input encoding; detected when not given")
    ] = None,
    check_text: CheckText = True,
    max_record_mb: MaxRecordMb = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="processes in all, this one included (default: CPU count, for inputs over 16 MiB)",
        ),
    ] = None,
    dataset_info: Annotated[
        str | None,
        typer.Option(
            "--dataset-info", help="add an entry for OUT to this LLaMA-Factory dataset_info.json"
        ),
    ] = None,
    dataset_name: Annotated[
        str | None,
        typer.Option("--dataset-name", help="the entry's name (default: OUT's file name)"),
    ] = None,
) -> None:
    """Convert IN to OUT in the format given by --to.

    Bad records go to OUT.rejects.jsonl (file, line, reason, raw text) and the rest is written;
    --strict stops at the first instead. Exit 1 when no record at all could be read.
    """
    from ..convert import convert as run_convert
    from ..io.rejects import nothing_kept
    from ..io.remote import shown

    on_error = error_policy(strict, on_error)
    rejects_path = rejects or (default_rejects(out) if on_error == "skip" else None)

    def opened(reader: Reader) -> None:
        note(
            f"{reader.name}: {reader.format.name} (confidence {reader.confidence:g}), "
            f"{reader.source.container}"
        )

    result = run_convert(
        src, out, to, from_=from_, on_error=on_error, rejects=rejects_path,
        allow_lossy=allow_lossy, out_container=out_container, workers=workers,
        progress=progress, on_open=opened, dataset_info=dataset_info, dataset_name=dataset_name,
        encoding=encoding, container=container, check_text=check_text, columns=columns,
        **max_record_options(max_record_mb),
    )  # fmt: skip
    notices(result.notices)
    summary(result.read, result.written, result.rejected, result.losses)
    if result.read and not result.written and result.rejected == result.read:
        # a wrong format or mapping, not data: no empty output to pass on, and a failing exit
        if out != "-":
            with contextlib.suppress(OSError):
                os.remove(out)
        raise nothing_kept(
            shown(src), result.read, result.by_reason, result.format,
            first=result.first_error, rejects=rejects_path and shown(rejects_path),
        )  # fmt: skip
    rejects_summary(
        result.rejected, result.read, result.by_reason, rejects_path and shown(rejects_path),
        result.first_error,
    )  # fmt: skip
    if result.rejected and rejects_path:
        typer.echo(f"rejects: {shown(rejects_path)}", err=True)
    if dataset_info:
        note(f"dataset_info: {dataset_info}")
