"""``sftforge generate TASK IN OUT``: run a generator with an OpenAI-compatible or local model.

``TASK`` is a generator (respond, judge, judge_pair, self_instruct, evol_instruct,
backtranslate, doc_qa, paraphrase, translate) or ``retry``, which reads a failed-items file
(``IN``) and runs its items again with the task and options recorded in it (command-line LLM
options override the recorded ones). Task options are given with ``--set KEY=VALUE``.
Exit code 0 when every item was done, 2 when some failed or were not run (see the failed file).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from ..errors import RecipeError
from .main import app

if TYPE_CHECKING:
    from ..generate import GenerationResult
    from ..generate.base import Generator
    from ..generate.docparse import SkippedDocument
    from ..llm.config import LLMConfig

__all__ = ["generate_cmd"]


def _task_name(task: str) -> str:
    # the generators are imported when a command runs, not for `sftforge --help`
    from ..generate import GENERATORS

    aliases = {t.replace("_", "-"): t for t in GENERATORS} | {"evol": "evol_instruct"}
    name = aliases.get(task, task)
    if name != "retry" and name not in GENERATORS:
        valid = ", ".join([*sorted(GENERATORS), "retry"])
        raise RecipeError(f"unknown task '{task}'.", hint=f"use one of: {valid}")
    return name


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value) if value else ""
    return out


def _read_items(
    gen: Generator, path: Path, fmt: str | None, follow: bool, skipped: list[SkippedDocument]
) -> list[Any]:
    from ..generate.docparse import load_documents
    from ..generate.io import read_samples, read_seeds

    if gen.input_kind in ("sample", "group"):
        return read_samples(path, fmt)
    if gen.input_kind in ("chunk", "document"):
        docs = load_documents(path, follow_symlinks=follow, skipped=skipped)
        for doc in skipped:  # one line each; they go to the rejects file too
            typer.echo(f"skipped: {doc.reason}", err=True)
        return docs
    return read_seeds(path)


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    from ..generate.io import write_jsonl

    if rows:
        write_jsonl(path, rows)
    elif path.exists():
        path.unlink()  # a stale file from an earlier run would mislead


def _report(task: str, res: GenerationResult, out: Path, failed: Path, rejects: Path) -> None:
    s = res.summary
    typer.echo(
        f"{task}: {s['items']} items -> {s['samples']} samples, {len(res.failed)} failed, "
        f"{len(res.dropped)} dropped; requests {s['requests']}, cache hits {s['cache_hits']}, "
        f"retries {s['retries']}; tokens {s['total_tokens']} (prompt {s['prompt_tokens']}, "
        f"completion {s['completion_tokens']}); cost {s['cost']:g}",
        err=True,
    )
    typer.echo(f"wrote {out}", err=True)
    if res.failed:
        retry = shlex.join(["sftforge", "generate", "retry", str(failed)])
        typer.echo(f"failed items: {failed}  (run: {retry} OUT)", err=True)
    if res.dropped:
        typer.echo(f"dropped by quality rules: {rejects}", err=True)
    if res.stopped:
        typer.echo(f"stopped early: {res.stopped}", err=True)


def _run_one(
    gen: Generator, items: list[Any], llm: LLMConfig, out: Path, dry_run: bool, progress: bool
) -> GenerationResult:
    from ..generate import generate

    res = generate(gen, items, llm, dry_run=dry_run, progress=progress)
    if dry_run and res.estimate is not None:
        e = res.estimate
        price = f"{e['cost']:g}" if e["priced"] else "unknown (model not in the price table)"
        typer.echo(
            f"dry run, {gen.task}: {len(items)} inputs, about {e['calls']} calls, "
            f"{e['prompt_tokens']} prompt + {e['output_tokens']} output tokens; cost {price}. "
            f"{e['note']}.",
            err=True,
        )
    return res


@app.command("generate")
def generate_cmd(
    task: Annotated[
        str,
        typer.Argument(
            help="respond, judge, judge_pair, self_instruct, evol_instruct, backtranslate, doc_qa, paraphrase, translate, or retry"
        ),
    ],
    src: Annotated[
        Path,
        typer.Argument(
            metavar="IN", help="input JSONL, document file/folder, or a failed file (retry)"
        ),
    ],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="output JSONL of samples")],
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="model name (or a local folder with --provider local)")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="openai (default) or local")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="environment variable holding the API key")
    ] = None,
    device: Annotated[str | None, typer.Option(help="local provider device: cpu, cuda...")] = None,
    timeout: Annotated[float | None, typer.Option(min=0.001, help="seconds per request")] = None,
    cache: Annotated[str | None, typer.Option(help="SQLite cache file")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not cache calls")] = False,
    no_refusal_check: Annotated[
        bool,
        typer.Option(
            "--no-refusal-check", help="keep answers that refuse (\"I'm sorry, but I can't...\")"
        ),
    ] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, help="calls in flight at once")] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="requests per minute limit")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="tokens per minute limit")] = None,
    max_retries: Annotated[
        int | None, typer.Option(min=0, help="retries on 429, 5xx and timeouts")
    ] = None,
    max_tokens_budget: Annotated[
        int | None, typer.Option(min=1, help="stop before spending more tokens")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(min=0, help="stop before spending more (price table units)")
    ] = None,
    prices: Annotated[
        str | None,
        typer.Option(help="YAML price table: model: {input: x, output: y} per 1M tokens"),
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0, help="sampling temperature")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="max output tokens per call")
    ] = None,
    lang: Annotated[str | None, typer.Option(help="prompt language: auto, en, zh")] = None,
    prompts: Annotated[
        str | None, typer.Option(help="YAML file overriding prompt templates")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="task option KEY=VALUE (repeatable)")
    ] = None,
    failed: Annotated[
        Path | None, typer.Option(help="failed items file (default OUT.failed.jsonl)")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="dropped samples file (default OUT.rejects.jsonl)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="estimate calls, tokens and cost; send nothing")
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bar")] = False,
    from_: Annotated[
        str | None, typer.Option("--from", help="input format (default: detected)")
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="output format (default: sftforge canonical JSONL)")
    ] = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="let --to drop what it cannot carry")
    ] = False,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks", help="read symlinks in a document folder that lead outside it"
        ),
    ] = False,
) -> None:
    """Generate or score samples with an LLM (see docs/generate.md)."""
    from ..generate import GenerationResult, build_generator
    from ..generate.io import write_jsonl
    from ..llm.config import LLMConfig

    name = _task_name(task)
    llm_over: dict[str, Any] = {
        k: v
        for k, v in dict(
            base_url=base_url, model=model, provider=provider, api_key_env=api_key_env,
            device=device, timeout=timeout, cache=cache, concurrency=concurrency, rpm=rpm,
            tpm=tpm, max_retries=max_retries, max_tokens_budget=max_tokens_budget,
            max_cost=max_cost, prices=prices,
        ).items()
        if v is not None
    }  # fmt: skip
    if no_cache:
        llm_over["cache"] = None
    if no_refusal_check:
        llm_over["refusal_check"] = False
    params = {
        k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None
    }
    task_opts = _parse_sets(set_ or [])
    if lang is not None:
        task_opts["lang"] = lang
    if prompts is not None:
        task_opts["prompts"] = prompts
    # a retry keeps what fails again in the file it read, so nothing is retried twice
    failed = failed or (src if name == "retry" else out.with_name(out.name + ".failed.jsonl"))
    rejects = rejects or out.with_name(out.name + ".rejects.jsonl")
    progress = not no_progress

    skipped: list[SkippedDocument] = []  # unreadable documents, or symlinks out of the folder
    if name == "retry":
        results = _retry(src, llm_over, params, task_opts, dry_run, progress, out)
    else:
        gen = build_generator(name, task_opts)
        llm = LLMConfig.from_dict(llm_over)
        llm.params.update(params)
        items = _read_items(gen, src, from_, follow_symlinks, skipped)
        results = [(gen, _run_one(gen, items, llm, out, dry_run, progress))]
    if dry_run:
        return
    merged = GenerationResult(dropped=[d.to_dict(name) for d in skipped])
    for _, r in results:
        merged.samples += r.samples
        merged.failed += r.failed
        merged.dropped += r.dropped
        merged.stopped = merged.stopped or r.stopped
        for k, v in r.summary.items():
            merged.summary[k] = merged.summary.get(k, 0) + v
    if to is None:
        write_jsonl(out, (s.to_dict() for s in merged.samples))
    else:
        from ..api import write

        write(merged.samples, out, to, allow_lossy=allow_lossy)
    _write(failed, merged.failed)
    if name == "retry" and failed.resolve() != src.resolve():
        _write(src, [])  # every item it held is now in the output or in the new failed file
    _write(rejects, merged.dropped)
    _report(name, merged, out, failed, rejects)
    if merged.failed or skipped:
        raise typer.Exit(2)


def _retry(
    src: Path,
    llm_over: dict[str, Any],
    params: dict[str, Any],
    task_opts: dict[str, Any],
    dry_run: bool,
    progress: bool,
    out: Path,
) -> list[tuple[Generator, GenerationResult]]:
    """Group the failed records by (task, options, llm) and run each group again."""
    from ..generate import build_generator
    from ..generate.io import read_jsonl
    from ..llm.config import LLMConfig

    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for n, rec in read_jsonl(src):
        if "task" not in rec or "input" not in rec:
            raise RecipeError(
                "not a failed-items record (needs 'task' and 'input')", file=str(src), line=n
            )
        key = yaml.safe_dump([rec["task"], rec.get("options"), rec.get("llm")], sort_keys=True)
        groups.setdefault(key, (rec, []))[1].append(rec["input"])
    results = []
    for rec, inputs in groups.values():
        gen = build_generator(rec["task"], {**(rec.get("options") or {}), **task_opts})
        llm = LLMConfig.from_dict({**(rec.get("llm") or {}), **llm_over})
        llm.params.update(params)
        items = [gen.item_from_dict(d) for d in inputs]
        results.append((gen, _run_one(gen, items, llm, out, dry_run, progress)))
    return results
