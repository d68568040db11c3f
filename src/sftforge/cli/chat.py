"""``sftforge chat MODEL [--compare BASE] [--system TEXT] [--no-stream] ...``: the terminal loop
of :func:`sftforge.train.chat.run_chat` (each input line a message; /reset, /system TEXT, /exit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .main import app

__all__ = ["chat"]


@app.command()
def chat(
    model: Annotated[
        Path, typer.Argument(help="a model folder (merged or not) or a LoRA adapter folder")
    ],
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="a second model (the base) answering each message too"),
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option("--base", help="the base of an adapter MODEL (default: the one it names)"),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="the system prompt")] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template", help="chat template name or .jinja file (default: the model's own)"
        ),
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="longest answer, in tokens")
    ] = 256,
    temperature: Annotated[
        float, typer.Option("--temperature", min=0.0, help="0 (default) answers greedily")
    ] = 0.0,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="print each answer when it is complete")
    ] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda... (default: cuda if available)")
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto, float32, bfloat16 or float16")
    ] = "auto",
) -> None:
    """Chat with a model in the terminal through its own chat template; --compare BASE side by side."""
    from ..train.chat import GenerationSettings, run_chat
    from ..train.load import base_view, load_model

    tuned = load_model(model, base=base, template=template, device=device, dtype=dtype)
    other = None
    if (
        compare is not None
        and tuned.adapter is not None
        and tuned.base.resolve() == compare.resolve()
    ):
        other = base_view(
            tuned, template=template
        )  # the adapter's own base: one copy of the weights
    elif compare is not None:
        other = load_model(compare, template=template, device=device, dtype=dtype)
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    run_chat(tuned, compare=other, system=system, settings=settings, stream=not no_stream)
