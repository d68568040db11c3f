"""``sftforge convert IN OUT --to FORMAT``: read any supported file, write it in another format.

Its parameters are declared once, in ``PARAMS`` (``.params``): typer builds the command and its
help from them, and the direct path (``.direct``) runs the command from them without typer. The
function takes every parameter by name, with no defaults of its own: those are in ``PARAMS``.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from ..progress import note
from ._report import (
    echo,
    error_policy,
    max_record_options,
    notices,
    progress,
    rejects_summary,
    summary,
)
from .options import CHECK_TEXT, COLUMNS, MAX_RECORD_MB, ON_ERROR, STRICT
from .params import REQUIRED, Command, Param

if TYPE_CHECKING:
    from ..api import Reader

__all__ = ["COMMAND", "convert"]


def default_rejects(out: str) -> str:
    """Where rejects go when ``--rejects`` is not given: next to the output."""
    return "sftforge.rejects.jsonl" if out == "-" else f"{out}.rejects.jsonl"


def _opt(name: str, kind: type, decl: str, help: str, **more: Any) -> Param:
    return Param(name, kind, help, (decl,), **{"default": None, **more})


# the command's arguments and options, in the order its help lists them (see .params)
PARAMS = (
    Param("src", str, "input file, or - for stdin", metavar="IN"),
    Param("out", str, "output file, or - for stdout", metavar="OUT"),
    _opt("to", str, "--to", "output format (e.g. sharegpt, openai, alpaca)", default=REQUIRED),
    _opt("from_", str, "--from", "input format; detected when not given"),
    COLUMNS,
    _opt("allow_lossy", bool, "--allow-lossy",
         "drop what the output format cannot carry, and count it", default=False),
    STRICT,
    ON_ERROR,
    _opt("rejects", str, "--rejects", "rejects file (default: OUT.rejects.jsonl)"),
    _opt("container", str, "--container",
         "input container: jsonl, json, csv, tsv, parquet, arrow, txt"),
    _opt("out_container", str, "--out-container", "output container (default: from OUT's name)"),
    _opt("encoding", str, "--encoding", "input encoding; detected when not given"),
    CHECK_TEXT,
    MAX_RECORD_MB,
    _opt("workers", int, "--workers",
         "processes in all, this one included (default: the idle CPUs, for inputs over 16 MiB)",
         min=1),
    _opt("dataset_info", str, "--dataset-info",
         "add an entry for OUT to this LLaMA-Factory dataset_info.json"),
    _opt("dataset_name", str, "--dataset-name", "the entry's name (default: OUT's file name)"),
)  # fmt: skip


def convert(
    *,
    src: str,
    out: str,
    to: str,
    from_: str | None,
    columns: str | None,
    allow_lossy: bool,
    strict: bool,
    on_error: str | None,
    rejects: str | None,
    container: str | None,
    out_container: str | None,
    encoding: str | None,
    check_text: bool,
    max_record_mb: int | None,
    workers: int | None,
    dataset_info: str | None,
    dataset_name: str | None,
) -> None:
    """Convert IN to OUT in the format given by --to.

    Bad records go to OUT.rejects.jsonl (file, line, reason, raw text) and the rest is written;
    --strict stops at the first instead. Exit 1 when no record at all could be read.
    """
    from ..convert import convert as run_convert
    from ..io.paths import masked as shown
    from ..io.rejects import nothing_kept

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
        echo(f"rejects: {shown(rejects_path)}", err=True)
    if dataset_info:
        note(f"dataset_info: {dataset_info}")


COMMAND = Command("convert", convert, PARAMS)
