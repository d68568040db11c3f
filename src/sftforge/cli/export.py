"""``sftforge export FILE --for FRAMEWORK OUTDIR [--model PATH] [--template NAME]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .main import app

__all__ = ["export"]


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="conversations: JSONL/JSON/Parquet")],
    outdir: Annotated[Path, typer.Argument(help="folder for the data, config and command")],
    framework: Annotated[
        str, typer.Option("--for", help="llamafactory | xtuner | swift | axolotl | litgpt | trl")
    ],
    model: Annotated[
        str, typer.Option("--model", help="model path or hub id written into the config")
    ] = "PATH/TO/MODEL",
    template: Annotated[
        str | None, typer.Option("--template", help="the framework's template name")
    ] = None,
    max_len: Annotated[
        int, typer.Option("--max-len", min=1, help="cutoff length in the config")
    ] = 2048,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="drop what the target cannot carry, and count it")
    ] = False,
    from_: Annotated[
        str | None, typer.Option("--from", help="input format (default: detect)")
    ] = None,
) -> None:
    """Write data in the form a training framework reads, with its config and command.

    Exit 1 when some samples could not be exported (listed in OUTDIR/rejects.jsonl).
    """
    from ..chat.inputs import read_samples
    from ..export import export_samples

    samples = list(read_samples(file, from_))
    result = export_samples(
        samples,
        framework,
        outdir,
        model=model,
        template=template,
        max_length=max_len,
        allow_lossy=allow_lossy,
    )
    kept = len(samples) - len(result.rejected)
    typer.echo(f"{framework}: {kept} of {len(samples)} samples written to {outdir}")
    for path in result.files:
        typer.echo(f"  {path}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
    typer.echo(f"run: {result.command}")
    if result.rejected:
        # the data written is usable, but not all of the input is in it: say so in the exit code
        typer.echo(
            f"error: {len(result.rejected)} of {len(samples)} samples could not be exported for "
            f"{framework} (reasons in {outdir / 'rejects.jsonl'}); pass --allow-lossy to write "
            "what the format can carry and count the losses",
            err=True,
        )
        raise typer.Exit(1)
