"""``sftforge tokenize`` and ``sftforge preview``: thin wrappers over ``sftforge.chat``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ..errors import InputError, TokenizeError
from ._common import Columns, OnError, Strict, TrainerOptions, error_policy, rejects_summary
from .main import app

__all__ = ["preview_cmd", "tokenize_cmd"]

_TOKENIZER_HELP = (
    "tokenizer folder, or a model id (Qwen/Qwen2.5-1.5B-Instruct) found in the Hugging Face or"
    " ModelScope cache or downloaded"
)
_TEMPLATE_HELP = (
    "built-in template name; 'tokenizer' (the default when the tokenizer has one) or "
    "'tokenizer:NAME'; a .jinja, tokenizer_config.json or .gguf file"
)
_UNSTABLE_HELP = (
    "for a template without generation marks that is not prefix-stable: last (train the last "
    "assistant turn) | split (one row per assistant turn) | keep-reasoning"
)
_ARG_HELP = "a template variable KEY=VALUE (VALUE read as JSON when it parses), repeatable"


def _template_args(pairs: list[str] | None, thinking: bool) -> dict[str, Any]:
    out: dict[str, Any] = {} if thinking else {"enable_thinking": False}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise InputError(
                f"--template-arg '{pair}' is not KEY=VALUE.",
                field="template-arg",
                hint="e.g. --template-arg enable_thinking=false",
            )
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


def _chat_tokenizer(
    tokenizer: Path,
    template: str | None,
    train_on: str,
    reasoning: str,
    thinking: bool,
    max_len: int | None = None,
    truncation: str = "drop",
    unstable: str | None = None,
    template_args: list[str] | None = None,
) -> Any:
    from ..chat.tokenize import ChatTokenizer

    if reasoning not in ("keep", "drop"):
        raise InputError(
            f"--reasoning must be keep or drop, not '{reasoning}'.",
            hint="pass --reasoning keep (the default) or --reasoning drop",
        )
    return ChatTokenizer(
        tokenizer,
        template,
        train_on=train_on,  # type: ignore[arg-type]
        reasoning=reasoning == "keep",
        max_len=max_len,
        truncation=truncation,  # type: ignore[arg-type]
        template_vars=_template_args(template_args, thinking),
        unstable=unstable,  # type: ignore[arg-type]
    )


@app.command("tokenize")
def tokenize_cmd(
    input: Annotated[Path, typer.Argument(help="samples (any format sftforge reads)")],
    output: Annotated[Path, typer.Argument(help="Parquet file to write")],
    tokenizer: Annotated[Path, typer.Option("--tokenizer", help=_TOKENIZER_HELP)],
    template: Annotated[str | None, typer.Option("--template", help=_TEMPLATE_HELP)] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="input format (default: detect)")
    ] = None,
    columns: Columns = None,
    max_len: Annotated[
        int | None, typer.Option("--max-len", min=1, help="maximum tokens per row")
    ] = None,
    truncation: Annotated[
        str, typer.Option("--truncation", help="drop|drop_oldest_turns|cut_answer")
    ] = "drop",
    pack: Annotated[bool, typer.Option("--pack", help="pack rows into --max-len bins")] = False,
    train_on: Annotated[str, typer.Option("--train-on", help="all|last|flags")] = "all",
    reasoning: Annotated[str, typer.Option("--reasoning", help="keep|drop")] = "keep",
    thinking: Annotated[
        bool, typer.Option("--thinking/--no-thinking", help="enable_thinking")
    ] = True,
    debug: Annotated[
        Path | None, typer.Option("--debug", help="also write a JSONL debug view")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write counts and stats as JSON")
    ] = None,
    unstable: Annotated[str | None, typer.Option("--unstable", help=_UNSTABLE_HELP)] = None,
    template_arg: Annotated[
        list[str] | None, typer.Option("--template-arg", help=_ARG_HELP)
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="encode as a trainer does: llamafactory|xtuner|swift|axolotl|trl "
            "(--template is then that framework's template name)",
        ),
    ] = None,
    option: TrainerOptions = None,
    strict: Strict = False,
    on_error: OnError = None,
) -> None:
    """Render, tokenize and mask samples into a Parquet file trainers read.

    Records that cannot be read, and samples that cannot be tokenized, go to
    OUTPUT-stem.rejects.jsonl (file, line, reason and the record or sample) and the rest is
    written; --strict stops at the first unreadable record. Exit 1 when reading or the template
    failed every record.
    """
    policy = error_policy(strict, on_error)
    if output.suffix.lower() not in (".parquet", ".pq"):
        # the rows are always Parquet: under another name they would pass for a file they are not
        raise InputError(
            f"tokenize writes Parquet, so '{output.name}' would hold Parquet under another "
            "file type.",
            file=str(output),
            field="output",
            hint=f"name it {output.with_suffix('.parquet').name} (--debug FILE.jsonl also writes "
            "a readable JSONL view)",
        )
    if profile is not None:
        _tokenize_with_profile(
            input,
            output,
            tokenizer,
            profile,
            template,
            from_,
            max_len,
            pack,
            policy,
            columns,
            option,
        )
        return
    if option:
        raise InputError(
            "--option sets a trainer's option: it needs --profile.",
            field="option",
            hint="add --profile llamafactory|xtuner|swift|axolotl|trl, or use the native flags "
            "(--train-on, --reasoning, --template-arg)",
        )
    from ..chat.inputs import read_samples
    from ..chat.output import write_debug_jsonl, write_parquet
    from ..chat.pack import pack_rows
    from ..chat.tokenize import tokenize_samples

    if pack and max_len is None:
        raise TokenizeError("--pack needs --max-len (the bin size).", field="pack")
    chat = _chat_tokenizer(
        tokenizer,
        template,
        train_on,
        reasoning,
        thinking,
        max_len,
        truncation,
        unstable,
        template_arg,
    )
    unread: list[dict[str, Any]] = []
    lines: dict[int, int] = {}
    samples = read_samples(
        input,
        from_,
        columns,
        on_error=policy,
        rejects=unread.append,
        lines=lines,
        label="tokenize",
        line=True,
    )
    # without packing or a debug view, rows go to Parquet row groups as they are made: memory
    # holds one group, not the whole output (packing needs every row's length first)
    stream = not pack and debug is None
    with _row_output(output, stream) as writer:
        result = tokenize_samples(samples, chat, sink=writer.add if writer else None)
        rows: list[Any] = list(result.rows)
        pack_stats = None
        if pack and max_len is not None:
            rows, pack_stats = pack_rows(result.rows, max_len)
        rejects_path = output.with_name(output.stem + ".rejects.jsonl")
        entries = list(unread)
        for rej in result.rejects:
            d = rej.to_dict()
            where = {"file": str(input), "line": lines.get(id(rej.sample))}
            entries.append({"op": d.pop("op"), **where, **d})
        failed = result.counts["rejected:template_error"]
        kinds = Counter(str(e.get("kind")) for e in unread)
        if failed:
            kinds["template_error"] = failed
        total = len(unread) + result.counts["seen"]
        kept = writer.count if writer else len(rows)
        _check_kept(input, from_, entries, kinds, total, len(unread) + failed, kept, rejects_path)
    if writer is None:
        write_parquet(rows, output)
    rejects_path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    if debug is not None:
        write_debug_jsonl(rows, chat.tokenizer, debug)
    summary = {
        "counts": dict(sorted(result.counts.items())),
        "stats": result.stats.to_dict(),
        "pack": pack_stats.to_dict() if pack_stats else None,
    }
    if report is not None:
        report.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    _print_summary(result.counts, summary, output, rejects_path)
    _unread_summary(unread, result.counts["seen"], rejects_path)


@contextmanager
def _row_output(output: Path, stream: bool) -> Iterator[Any]:
    """The Parquet writer rows stream to (closed when the block ends, removed when it fails), or
    None when the rows are written at the end (packing, a debug view)."""
    if not stream:
        yield None
        return
    from ..chat.output import ParquetRowWriter

    with ParquetRowWriter(output) as writer:
        yield writer


def _unread_summary(unread: list[dict[str, Any]], seen: int, path: Path) -> None:
    """The loud line for records that could not be read at all (not in the tokenize counts)."""
    kinds = Counter(str(e.get("kind")) for e in unread)
    first = str(unread[0].get("error")) if unread else None
    rejects_summary(len(unread), len(unread) + seen, dict(kinds), str(path), first)


def _check_kept(
    input: Path,
    fmt: str | None,
    entries: list[dict[str, Any]],
    kinds: Counter[str],
    total: int,
    refused: int,
    kept: int,
    rejects_path: Path,
) -> None:
    """Refuse to write an empty output when reading, the template or the profile refused every
    one of the ``total`` records: every reject is written (``entries``: they say why), the output
    is not, and the exit code is 1 with the fix for the most common reason (``kinds``)."""
    from ..io.rejects import nothing_kept

    if kept or not total or refused != total:
        return
    rejects_path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    first = str(entries[0].get("error") or entries[0].get("reason")) if entries else None
    raise nothing_kept(str(input), total, dict(kinds), fmt, first=first, rejects=str(rejects_path))


def _tokenize_with_profile(
    input: Path,
    output: Path,
    tokenizer: Path,
    name: str,
    template: str | None,
    from_: str | None,
    max_len: int | None,
    pack: bool,
    policy: str,
    columns: str | None = None,
    option: list[str] | None = None,
) -> None:
    from ..chat.inputs import read_samples
    from ..chat.output import write_parquet
    from ..chat.pack import pack_rows
    from ..chat.profiles import get_profile, load_tokenizer
    from ..chat.profiles.options import parse_options
    from ..chat.profiles.run import encode_with_profile

    options = parse_options(option)
    prof = get_profile(
        name, load_tokenizer(str(tokenizer)), template=template, max_length=max_len, **options
    )
    for note in prof.notes:  # the template decision's warnings
        typer.echo(f"note: {note}", err=True)
    unread: list[dict[str, Any]] = []
    samples = read_samples(
        input, from_, columns, on_error=policy, rejects=unread.append, label="tokenize", line=True
    )
    read = Counter[str]()

    def counted(items: Iterable[Any]) -> Iterator[Any]:
        # a profile may make several rows of one sample (LitGPT: one per answer): count samples
        for item in items:
            read["samples"] += 1
            yield item

    if pack and max_len is None:
        raise TokenizeError("--pack needs --max-len (the bin size).", field="pack")
    # unpacked rows stream to Parquet row groups as they are made (see the native path)
    with _row_output(output, not pack) as writer:
        rows, profile_rejects = encode_with_profile(
            counted(samples), prof, sink=writer.add if writer else None
        )
        kept = writer.count if writer else len(rows)
        rejects = unread + profile_rejects
        kinds = Counter(str(e.get("kind")) for e in unread)
        if profile_rejects:
            kinds[f"profile:{name}"] = len(profile_rejects)
        rejects_path = output.with_name(output.stem + ".rejects.jsonl")
        _check_kept(
            input,
            from_,
            rejects,
            kinds,
            len(unread) + read["samples"],
            len(rejects),
            kept,
            rejects_path,
        )
    if writer is None:
        assert max_len is not None  # checked above
        packed, _ = pack_rows(rows, max_len)
        write_parquet(packed, output)
    rejects_path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rejects))
    rows_made = f"{kept} rows" if kept != read["samples"] - len(profile_rejects) else f"{kept}"
    typer.echo(
        f"{read['samples']} samples: {rows_made} written to {output} as {name} "
        f"encodes them, {len(profile_rejects)} rejected ({rejects_path})"
    )
    _unread_summary(unread, read["samples"], rejects_path)


def _print_summary(counts: Counter[str], summary: dict[str, Any], out: Path, rej: Path) -> None:
    stats = summary["stats"]
    typer.echo(
        f"{counts['seen']} samples: {counts['kept']} written to {out}, "
        f"{sum(v for k, v in counts.items() if k.startswith('rejected:'))} "
        f"rejected ({rej})"
    )
    for key, value in sorted(counts.items()):
        if ":" in key:
            typer.echo(f"  {key}: {value}")
    typer.echo(
        f"tokens {stats['tokens']}, trained {stats['trained_tokens']} "
        f"({stats['trained_fraction']:.1%}), longest {stats['max_length']}"
    )
    if summary["pack"]:
        p = summary["pack"]
        typer.echo(
            f"packed into {p['bins']} rows of {p['max_len']}: utilisation {p['utilisation']:.2%}"
        )


@app.command("preview")
def preview_cmd(
    file: Annotated[Path, typer.Argument(help="samples (any format sftforge reads)")],
    tokenizer: Annotated[Path, typer.Option("--tokenizer", help=_TOKENIZER_HELP)],
    template: Annotated[str | None, typer.Option("--template", help=_TEMPLATE_HELP)] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="input format (default: detect)")
    ] = None,
    columns: Columns = None,
    index: Annotated[
        int, typer.Option("--index", min=0, help="first sample to show (0-based)")
    ] = 0,
    count: Annotated[int, typer.Option("--count", min=1, help="how many samples to show")] = 1,
    train_on: Annotated[str, typer.Option("--train-on", help="all|last|flags")] = "all",
    reasoning: Annotated[str, typer.Option("--reasoning", help="keep|drop")] = "keep",
    thinking: Annotated[
        bool, typer.Option("--thinking/--no-thinking", help="enable_thinking")
    ] = True,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write a self-contained HTML page")
    ] = None,
    unstable: Annotated[str | None, typer.Option("--unstable", help=_UNSTABLE_HELP)] = None,
    template_arg: Annotated[
        list[str] | None, typer.Option("--template-arg", help=_ARG_HELP)
    ] = None,
) -> None:
    """Show a sample with trained tokens highlighted against masked ones."""
    from itertools import islice

    from ..chat.inputs import read_samples
    from ..chat.preview import explain, print_rich, to_html

    chat = _chat_tokenizer(
        tokenizer, template, train_on, reasoning, thinking,
        unstable=unstable, template_args=template_arg,
    )  # fmt: skip
    samples = read_samples(file, from_, columns)
    try:
        chosen = list(islice(samples, index, index + count))
    finally:
        samples.close()
    if not chosen:
        raise InputError(f"'{file}' has no sample at index {index}.", file=str(file))
    shown = [explain(chat, s) for s in chosen]
    for ex in shown:
        print_rich(ex)
    if html is not None:
        html.write_text(to_html(shown, f"sftforge preview: {file.name}"), encoding="utf-8")
        typer.echo(f"wrote {html}")
