"""``sftforge lint FILE --tokenizer DIR [--template NAME] [--max-len N] [--json]``.

With a tokenizer, the report starts with the chat template's facts (prefix-stable or not and
where, BOS, how assistant turns end, default system prompt, reasoning, tool results).

Exit code 1 when any error-level finding is reported, 0 otherwise (warnings only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ._common import Columns
from .main import app

__all__ = ["lint"]

_SHOW = 5  # findings printed per check in the text report


def _print_text(report: Any, path: str) -> None:
    typer.echo(f"{path}: {report.rows} rows, {report.errors} errors, {report.warnings} warnings")
    if report.template is not None:
        typer.echo(f"  chat template '{report.template.name}':")
        for line in report.template.lines():
            typer.echo(f"      {line}")
    by_check: dict[str, list[Any]] = {}
    for f in report.findings:
        by_check.setdefault(f.check, []).append(f)
    for check, items in by_check.items():
        typer.echo(f"  {items[0].severity:7} {check}: {len(items)}")
        for f in items[:_SHOW]:
            where = (
                f"row {f.row}" + (f" ({f.sample_id})" if f.sample_id else "")
                if f.row is not None
                else "all"
            )
            typer.echo(f"      {where}: {f.message}")
        if len(items) > _SHOW:
            typer.echo(f"      ... {len(items) - _SHOW} more")
    if report.lengths:
        typer.echo("  token lengths:")
        top = max(n for _, n in report.histogram())
        for bucket, n in report.histogram():
            typer.echo(f"    {bucket:>7} {n:7d} {'#' * max(1, round(30 * n / top))}")
        if report.max_len is not None:
            typer.echo(
                f"  {report.over_max} of {len(report.lengths)} rows longer than {report.max_len} tokens"
            )


@app.command()
def lint(
    file: Annotated[
        Path, typer.Argument(help="JSONL/JSON/Parquet: conversations or tokenized rows")
    ],
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer", help="tokenizer folder or model id (Qwen/Qwen2.5-1.5B-Instruct)"
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="chat template: catalogue name or .jinja file (default: the tokenizer's own)",
        ),
    ] = None,
    max_len: Annotated[
        int | None, typer.Option("--max-len", min=1, help="maximum tokens per row")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    identity: Annotated[
        list[str] | None,
        typer.Option("--identity", help="the model name the identity set teaches (repeatable)"),
    ] = None,
    columns: Columns = None,
) -> None:
    """Find double BOS, untrained EOS, injected special tokens, bad role order and more."""
    from ..chat.lint import lint_samples, lint_tokenized
    from ..chat.lint_input import is_tokenized, parse_records, read_records

    records = read_records(file)
    tok = None
    if tokenizer is not None:
        from ..chat.profiles import load_tokenizer

        tok = load_tokenizer(tokenizer)
    if is_tokenized(records):
        report = lint_tokenized(records, tok, max_len=max_len)
    else:
        good, bad = parse_records(records, source=str(file), columns=columns)
        render = facts = None
        if tok is not None:
            from ..chat.lint_render import native_renderer
            from ..chat.template_facts import template_facts
            from ..chat.templates import resolve_template

            render = native_renderer(tok, template)
            facts = template_facts(resolve_template(template, tok), tok)
        report = lint_samples(
            [s for _, s in good], tok, render=render, max_len=max_len,
            rows=[r for r, _ in good], unreadable=[(u.row, u.error) for u in bad],
            identity_names=identity or (),
            template=facts,
        )  # fmt: skip
    if as_json:
        typer.echo(orjson.dumps(report.to_dict()).decode())
    else:
        _print_text(report, str(file))
    if report.errors:
        raise typer.Exit(1)
