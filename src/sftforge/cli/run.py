"""``sftforge run RECIPE -o RUN_DIR``: run a YAML recipe and say where everything went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .main import app

__all__ = ["run"]


@app.command()
def run(
    recipe: Annotated[Path, typer.Argument(help="the recipe YAML file")],
    out: Annotated[Path, typer.Option("-o", "--out", help="the run folder, e.g. runs/NAME")],
    workers: Annotated[
        Optional[int],  # noqa: UP045  (typer reads the annotation at runtime on Python 3.10)
        typer.Option("--workers", "-w", min=1, help="worker processes (default: cores)"),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume/--fresh", help="continue an interrupted run, or start over"),
    ] = True,
    stall_timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--stall-timeout",
            min=0,
            help="fail when the workers finish no chunk for this many seconds (default 3600;"
            " 0: wait without end); the run stays resumable",
        ),
    ] = None,
    allow_outside: Annotated[
        bool,
        typer.Option(
            "--allow-outside",
            help="let the recipe's outputs and cache: lie outside the run folder",
        ),
    ] = False,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks",
            help="read inputs that are symlinks to files outside their own folder",
        ),
    ] = False,
    engine: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--engine",
            help="local (this machine's process pool) or ray (a Ray cluster, pip install"
            " 'sftforge[ray]'); default: the recipe's executor:, else local",
        ),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--address",
            help="the Ray cluster: auto (the one started with `ray start` here) or"
            " ray://HOST:10001; none: start Ray on this machine (implies --engine ray)",
        ),
    ] = None,
) -> None:
    """Run a recipe: read the inputs, apply the steps, write outputs, rejects and a report."""
    from ..pipeline import run_recipe
    from ..progress import note

    # a bar per stage on a terminal, the stage lines otherwise, nothing under --quiet
    res = run_recipe(
        recipe,
        out,
        workers,
        resume=resume,
        log=note,
        stall_timeout=stall_timeout,
        allow_outside=allow_outside,
        follow_symlinks=follow_symlinks,
        engine=engine,
        address=address,
    )
    c = res.counts
    added = f", added {c['added']}" if c["added"] else ""
    typer.echo(
        f"read {c['read']}, kept {c['kept']}, rejected {c['rejected']}{added}"
        f" in {res.seconds:.1f} s"
    )
    for split, path in res.outputs.items():
        typer.echo(f"  {split}: {path}")
    typer.echo(f"  rejects: {res.rejects}")
    typer.echo(f"  report:  {res.report_html} (data: {res.report_json.name})")
    typer.echo(f"  lock:    {res.lock}")
