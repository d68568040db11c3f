"""``sftforge inspect FILE``: detected format, counts, roles, turn and length histograms, examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ._common import CheckText, Columns, MaxRecordMb, max_record_options
from .main import app

if TYPE_CHECKING:
    from ..inspection import InspectReport

__all__ = ["inspect", "render_report"]


def _hist(counts: dict[Any, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-"


def render_report(rep: InspectReport) -> str:
    d = rep.to_dict()
    if rep.proposed_columns is not None:
        fmt = f"not detected; read with the proposed mapping --columns {rep.proposed_columns}"
    elif rep.columns is not None:
        fmt = f"column mapping --columns {rep.columns}"
    else:
        fmt = f"{rep.format} (confidence {rep.confidence:g})"
    lines = [
        f"file:       {rep.file}",
        f"format:     {fmt}",
        f"container:  {rep.container}, encoding {rep.encoding or '-'}, compression {rep.compression or 'none'}",
        f"records:    {rep.read} read, {rep.ok} valid, {rep.rejected} invalid",
    ]
    if rep.by_reason:
        lines.append(f"invalid:    {_hist(dict(sorted(rep.by_reason.items())))}")
    lines.append(f"roles:      {_hist(dict(sorted(rep.roles.items())))}")
    if rep.turns:
        lines.append(f"user turns: {_hist(d['turns'])}")
    lines.append(f"empty:      {_hist(dict(sorted(rep.empty.items())))}")
    if rep.features:
        lines.append(f"features:   {_hist(dict(sorted(rep.features.items())))}")
    lines.append("length (characters) per role:")
    for role, hist in d["lengths"].items():
        lines.append(f"  {role:<10} {_hist(hist)}")
    if rep.errors:
        lines.append("unreadable:")
        lines += [f"  {e}" for e in rep.errors]
    if rep.languages:
        lines.append(
            f"languages:  {_hist(rep.languages)} (prompts of the first {sum(rep.languages.values()):,})"
        )
    if rep.problems:
        lines.append("problems:")
        for p in rep.problems:
            rows = f"; e.g. records {', '.join(map(str, p.rows))}" if p.rows else ""
            lines.append(f"  {p.kind}: {p.count:,} of {p.checked:,} {p.detail}{rows}")
    elif rep.checked_problems:
        lines.append("problems:   none found")
    if rep.examples:
        lines.append("examples:")
        for ex in rep.examples:
            text = orjson.dumps(ex).decode("utf-8")
            lines.append(f"  {text if len(text) <= 300 else text[:297] + '...'}")
    if rep.fix:
        lines.append("fix: add these steps to a recipe (sftforge run):")
        lines += [f"  {line}" for line in rep.fix.rstrip().splitlines()]
    if rep.proposed_columns is not None:
        lines.append(
            f"no format fits these records; check the proposed mapping, then pass it: "
            f"sftforge convert {rep.file} OUT --to alpaca --columns {rep.proposed_columns}"
        )
    return "\n".join(lines)


@app.command()
def inspect(
    file: Annotated[str, typer.Argument(help="dataset file, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    from_: Annotated[
        str | None, typer.Option("--from", help="input format; detected when not given")
    ] = None,
    container: Annotated[str | None, typer.Option("--container", help="input container")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="input encoding")] = None,
    check_text: CheckText = True,
    max_record_mb: MaxRecordMb = None,
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="how many examples to show")
    ] = 3,
    columns: Columns = None,
    problems: Annotated[
        bool,
        typer.Option(
            "--problems/--no-problems",
            help="look for HTML, duplicates, personal data, empty turns, languages, lengths",
        ),
    ] = True,
    check_limit: Annotated[
        int | None,
        typer.Option(
            "--check-limit",
            min=1,
            help="records the duplicate and personal-data checks look at (the first N; "
            "default 5,000)",
        ),
    ] = None,
) -> None:
    """Describe a dataset file: format, counts, roles, turns, lengths, problems, examples."""
    from ..inspection import inspect_file

    limit = {} if check_limit is None else {"check_limit": check_limit}
    rep = inspect_file(
        file,
        from_,
        examples=examples,
        container=container,
        encoding=encoding,
        check_text=check_text,
        columns=columns,
        problems=problems,
        **limit,
        **max_record_options(max_record_mb),
    )
    if as_json:
        typer.echo(orjson.dumps(rep.to_dict(), option=orjson.OPT_INDENT_2).decode("utf-8"))
    else:
        typer.echo(render_report(rep))
