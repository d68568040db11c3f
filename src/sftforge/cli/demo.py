"""``sftforge demo``: inspect and convert the built-in example datasets (Chinese and English).

The examples ship inside the package (``sftforge/examples_data``), so the demo runs from a fresh
clone or an installed wheel alike; outputs go to ``runs/demo/`` under the current directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import orjson
import typer

from ._common import summary
from .inspect import render_report
from .main import app

__all__ = ["EXAMPLES", "demo", "example_path"]

# (example file, its format, the formats the demo converts it to)
EXAMPLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("alpaca_zh_en.json", "alpaca", ("sharegpt", "openai")),
    ("sharegpt_zh_en.jsonl", "sharegpt", ("openai", "alpaca")),
)
_EXT = {"alpaca": "json", "sharegpt": "jsonl", "openai": "jsonl"}


def example_path(name: str) -> Path:
    return Path(str(resources.files("sftforge") / "examples_data" / name))


@app.command()
def demo(
    out: Annotated[str, typer.Option("--out", help="folder for the outputs")] = "runs/demo",
) -> None:
    """Inspect and convert the built-in example datasets; outputs go to runs/demo/."""
    from ..api import read, write
    from ..inspection import inspect_file

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, fmt, targets in EXAMPLES:
        src = example_path(name)
        rep = inspect_file(src)
        typer.echo(f"== inspect {name}")
        typer.echo(render_report(rep))
        report = folder / f"{src.stem}.inspect.json"
        report.write_bytes(orjson.dumps(rep.to_dict(), option=orjson.OPT_INDENT_2))
        written.append(report)
        for target in targets:
            dest = folder / f"{src.stem}.{target}.{_EXT.get(target, 'jsonl')}"
            with read(src, fmt) as reader:
                result = write(reader, dest, target)
            typer.echo(f"== convert {name} ({fmt}) -> {dest} ({target})")
            summary(reader.stats.read, result.count, reader.stats.rejected, result.losses)
            written.append(dest)
    typer.echo(f"demo outputs in {folder}/:")
    for path in written:
        typer.echo(f"  {path}")
