"""``sftforge merge ADAPTER --out DIR [--base DIR] [--dtype auto|float32|bfloat16|float16]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .main import app

__all__ = ["merge"]


@app.command()
def merge(
    adapter: Annotated[Path, typer.Argument(help="the LoRA adapter folder (adapter_config.json)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the new folder for the merged model")],
    base: Annotated[
        Path | None,
        typer.Option("--base", help="the base model folder (default: the one the adapter names)"),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (the base's), float32, bfloat16 or float16")
    ] = "auto",
) -> None:
    """Merge a LoRA adapter into its base: safetensors, tokenizer, chat template, generation config."""
    from ..train.merge import merge_adapter

    result = merge_adapter(adapter, out, base=base, dtype=dtype)
    typer.echo(f"merged {result.adapter} into {result.base} ({result.dtype}) -> {result.out}")
    typer.echo(f"  files: {', '.join(result.files)}")
