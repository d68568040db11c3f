"""``sftforge export [SOURCE] OUTDIR --for FRAMEWORK [--train FILE] [--eval FILE] [--name N]
[--force]``.

SOURCE is a data file (the train split) or a run folder (its ``train`` output, and its
``validation`` output as the eval set, found through the run's ``report.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from .. import progress
from ..errors import SftforgeError
from ._common import Columns, OnError, Strict, TrainerOptions, error_policy, rejects_summary
from .main import app

__all__ = ["export"]

# run-folder outputs taken as the eval set, in order of preference (never ``test``: held out)
EVAL_SPLITS = ("validation", "eval", "valid", "val", "dev")


def _run_outputs(folder: Path) -> tuple[tuple[Path, str | None], tuple[Path, str | None] | None]:
    """(train file, format) and the eval file, if any, of a run folder."""
    try:
        report = orjson.loads((folder / "report.json").read_bytes())
        outputs = {k: (folder / v["path"], v.get("format")) for k, v in report["outputs"].items()}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise SftforgeError(
            "not a run folder (no readable report.json listing its outputs).",
            file=str(folder),
            hint="give a data file, a folder written by `sftforge run`, or --train FILE",
        ) from None
    train = outputs.get("train") or (next(iter(outputs.values())) if len(outputs) == 1 else None)
    if train is None:
        raise SftforgeError(
            f"the run has no 'train' output (it has: {', '.join(outputs)}).",
            file=str(folder),
            hint="pass the split to train on with --train FILE",
        )
    evals = next((outputs[k] for k in EVAL_SPLITS if k in outputs), None)
    return train, evals


@app.command()
def export(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="[SOURCE] OUTDIR: SOURCE is a data file or a run folder (left out with --train); "
            "OUTDIR the folder for the data, config and command"
        ),
    ],
    framework: Annotated[
        str, typer.Option("--for", help="llamafactory | xtuner | swift | axolotl | litgpt | trl")
    ],
    train: Annotated[
        Path | None, typer.Option("--train", help="the train split (instead of SOURCE)")
    ] = None,
    eval_: Annotated[
        Path | None,
        typer.Option("--eval", help="the eval split; the trainer config evaluates on it"),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="dataset name (default: the input's, or its run folder's)"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace an export already in OUTDIR")
    ] = False,
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
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            help="the model's tokenizer (a folder, tokenizer.json, or a hub id in the local "
            "cache) for the template decision; default: --model when it is a local folder",
        ),
    ] = None,
    option: TrainerOptions = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="then load the export with the trainer's own code (when installed) and compare "
            "its rows with the profile's; exit 1 when they differ",
        ),
    ] = False,
    trainer_python: Annotated[
        str | None,
        typer.Option(
            "--trainer-python",
            help="for --check: the python (or venv folder) the trainer is installed in "
            "(default: this one, or the trainer's command on PATH)",
        ),
    ] = None,
    columns: Columns = None,
    strict: Strict = False,
    on_error: OnError = None,
) -> None:
    """Write data in the form a training framework reads, with its config and command.

    Unreadable records go to OUTDIR/rejects.jsonl (--strict stops at the first); exit 1 when
    some samples could not be exported (listed there too) or no record could be read.
    """
    from ..chat.inputs import read_samples
    from ..chat.profiles.options import parse_options
    from ..export import export_samples
    from ..export.common import dataset_name
    from ..io.rejects import nothing_kept

    if len(paths) > 2 or (len(paths) == 2 and train is not None):
        raise SftforgeError(
            "give SOURCE OUTDIR, or OUTDIR with --train FILE, not both.",
            hint="sftforge export data.jsonl out --for llamafactory",
        )
    if len(paths) == 1 and train is None:
        raise SftforgeError(
            "nothing to export: give SOURCE OUTDIR, or --train FILE.",
            hint="sftforge export runs/v1 out --for llamafactory "
            "(or: export out --for llamafactory --train train.jsonl --eval validation.jsonl)",
        )
    options = parse_options(option)
    outdir = paths[-1]
    source = train if train is not None else paths[0]
    train_src: tuple[Path, str | None] = (source, from_)
    eval_src = None if eval_ is None else (eval_, from_)
    if source.is_dir():
        # a run folder's outputs are in the formats its report names: no mapping applies
        train_src, found = _run_outputs(source)
        eval_src = eval_src or found
        columns = None
    unread: list[dict[str, object]] = []
    policy = error_policy(strict, on_error)
    samples = list(read_samples(*train_src, columns, on_error=policy, rejects=unread.append))
    evals = (
        list(read_samples(*eval_src, columns, on_error=policy, rejects=unread.append))
        if eval_src
        else []
    )
    rejects = outdir / "rejects.jsonl"
    kinds: dict[str, int] = {}
    for e in unread:
        kinds[str(e.get("kind"))] = kinds.get(str(e.get("kind")), 0) + 1
    first = str(unread[0].get("error")) if unread else None
    if unread and not samples:
        outdir.mkdir(parents=True, exist_ok=True)
        rejects.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in unread))
        raise nothing_kept(
            str(train_src[0]), len(unread), kinds, train_src[1], first=first, rejects=str(rejects)
        )
    # the writing is one step per target: a stage (a bar on a terminal, one line otherwise)
    with progress.stage("export", total=len(samples) + len(evals), line=True) as st:
        result = export_samples(
            samples,
            framework,
            outdir,
            eval_samples=evals,
            name=dataset_name(source, name),
            model=model,
            template=template,
            max_length=max_len,
            allow_lossy=allow_lossy,
            force=force,
            tokenizer=tokenizer,
            options=options,
        )
        st.count = len(samples) + len(evals)
    total = len(samples) + len(evals)
    if unread:  # the records that could not be read come first, then those not exported
        done = rejects.read_bytes() if result.rejected else b""
        rejects.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in unread) + done)
        if not result.rejected:
            result.files.append(rejects)
        rejects_summary(len(unread), len(unread) + total, kinds, str(rejects), first)
    kept = total - len(result.rejected)
    split = f" (train {len(samples)}, eval {len(evals)})" if evals else ""
    typer.echo(f"{framework}: {kept} of {total} samples{split} written to {outdir}")
    for path in result.files:
        typer.echo(f"  {path}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
    typer.echo(f"run: {result.command}")
    checked_ok = True
    if check:
        from ..export.check import check_export

        not_written = {i for i, _ in result.rejected}
        report = check_export(
            framework,
            outdir,
            [s for s in samples if s.id not in not_written],
            tokenizer=result.tokenizer,
            settings=result.profile,
            python=trainer_python,
        )
        for line in report.lines():
            typer.echo(line)
        checked_ok = report.comparison.ok
    if result.rejected:
        # the data written is usable, but not all of the input is in it: say so in the exit code
        typer.echo(
            f"error: {len(result.rejected)} of {total} samples could not be exported for "
            f"{framework} (reasons in {outdir / 'rejects.jsonl'}); pass --allow-lossy to write "
            "what the format can carry and count the losses",
            err=True,
        )
        raise typer.Exit(1)
    if not checked_ok:
        typer.echo(
            f"error: {framework}'s own rows differ from the {framework} profile's (see above)",
            err=True,
        )
        raise typer.Exit(1)
