"""Shared CLI helpers: the reading progress bar and the read/write summary (``sftforge.progress``),
and the bad-record policy every reading command shares (skip to a rejects file by default,
``--strict`` stops at the first; ``--on-error skip|raise`` is the older spelling)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._report import (
    error_policy,
    max_record_options,
    notices,
    progress,
    rejects_summary,
    summary,
)
from .options import CHECK_TEXT, COLUMNS, MAX_RECORD_MB, ON_ERROR, STRICT
from .params import typer_info

__all__ = [
    "CheckText",
    "Columns",
    "MaxRecordMb",
    "OnError",
    "Strict",
    "TrainerOptions",
    "error_policy",
    "max_record_options",
    "notices",
    "progress",
    "rejects_summary",
    "summary",
]

# the shared options, declared once in .options (the direct path reads them there)
Strict = Annotated[bool, typer_info(STRICT)]
OnError = Annotated[str | None, typer_info(ON_ERROR)]
CheckText = Annotated[bool, typer_info(CHECK_TEXT)]
Columns = Annotated[str | None, typer_info(COLUMNS)]
MaxRecordMb = Annotated[int | None, typer_info(MAX_RECORD_MB)]

TrainerOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        help="a trainer option by its own name, KEY=VALUE (repeat it): e.g. mask_history=true "
        "(llamafactory), assistant_only_loss=false (trl), train_on_eos=last (axolotl)",
    ),
]
