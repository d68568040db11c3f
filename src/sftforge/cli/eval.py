"""``sftforge eval TUNED QUESTIONS --out DIR [--base BASE] [--judge-model M --judge-base-url URL]``.

The judge takes the same limits as ``sftforge generate``: ``--judge-concurrency``,
``--judge-rpm``, ``--judge-max-tokens-budget``, ``--judge-max-cost`` (with ``--judge-prices``).

``TUNED`` is a model folder (merged) or an adapter folder; ``--base`` defaults to the adapter's
base, or the base a merged folder records in ``sftforge_merge.json``. ``QUESTIONS``: a dataset
file (the test split), a run folder (its test output) or a text file, one question per line.
Writes eval.jsonl, eval.md, eval.html and summary.json into ``--out``. Exit code 0, or 2 when
some judge calls failed (their rows say why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .main import app

__all__ = ["eval_cmd"]


def _base_of(tuned: Path, base: Path | None) -> Path:
    from ..train.load import adapter_base, is_adapter

    if base is not None:
        return base
    if is_adapter(tuned):
        return adapter_base(tuned)
    record = tuned / "sftforge_merge.json"
    if record.is_file():
        return Path(json.loads(record.read_text(encoding="utf-8"))["base"])
    raise InputError(
        f"no base model to compare '{tuned}' with.",
        field="base",
        hint="pass --base FOLDER (the model before fine-tuning)",
    )


@app.command("eval")
def eval_cmd(
    tuned: Annotated[Path, typer.Argument(help="the tuned model folder, or its adapter folder")],
    questions: Annotated[
        Path, typer.Argument(help="test split file, run folder, or a text file of questions")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the reports")],
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            help="the model before fine-tuning (default: the adapter's base, or the one a "
            "merged folder records)",
        ),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="the judge LLM (no judge when left out)")
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option("--judge-base-url", help="OpenAI-compatible base URL")
    ] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option("--judge-api-key-env", help="environment variable with the key")
    ] = None,
    judge_provider: Annotated[
        str, typer.Option("--judge-provider", help="openai (any compatible URL) or local")
    ] = "openai",
    judge_cache: Annotated[
        str | None, typer.Option("--judge-cache", help="SQLite cache of judge calls")
    ] = ".sftforge-cache/llm.sqlite",
    judge_concurrency: Annotated[
        int, typer.Option("--judge-concurrency", min=1, help="judge calls in flight at once")
    ] = 8,
    judge_rpm: Annotated[
        int | None, typer.Option("--judge-rpm", min=1, help="judge requests per minute limit")
    ] = None,
    judge_max_tokens_budget: Annotated[
        int | None,
        typer.Option("--judge-max-tokens-budget", min=1, help="stop judging before more tokens"),
    ] = None,
    judge_max_cost: Annotated[
        float | None,
        typer.Option("--judge-max-cost", min=0, help="stop judging before spending more"),
    ] = None,
    judge_prices: Annotated[
        str | None,
        typer.Option(
            "--judge-prices", help="YAML price table: model: {input: x, output: y} per 1M tokens"
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="questions file format (default: detected)")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="chat template (default: each model's own)")
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="longest answer, in tokens")
    ] = 256,
    max_len: Annotated[
        int | None, typer.Option("--max-len", min=1, help="longest sample scored for loss")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda...")] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto, float32, bfloat16, float16")
    ] = "auto",
) -> None:
    """Compare a tuned model with its base: loss, perplexity, both answers, LLM-judge win rate."""
    from ..llm.config import LLMConfig
    from ..train.chat import GenerationSettings
    from ..train.eval_report import summary_lines, write_eval
    from ..train.evaluate import evaluate, read_questions
    from ..train.load import base_view, load_model

    samples = read_questions(questions, fmt=from_)
    judge = None
    if judge_model is not None:
        judge = LLMConfig(
            provider=judge_provider, model=judge_model, base_url=judge_base_url,
            api_key_env=judge_api_key_env, cache=judge_cache, concurrency=judge_concurrency,
            rpm=judge_rpm, max_tokens_budget=judge_max_tokens_budget, max_cost=judge_max_cost,
            prices=judge_prices,
        )  # fmt: skip
        if judge_provider == "openai" and not judge_base_url:  # fail now, not after the answers
            raise InputError(
                "--judge-model needs --judge-base-url.",
                field="judge-base-url",
                hint="e.g. --judge-base-url https://api.deepseek.com/v1 (or --judge-provider local)",
            )
    base_dir = _base_of(tuned, base)
    tuned_model = load_model(tuned, base=base, template=template, device=device, dtype=dtype)
    if tuned_model.adapter is not None and tuned_model.base.resolve() == base_dir.resolve():
        base_model = base_view(tuned_model, template=template)  # one copy of the weights
    else:
        base_model = load_model(base_dir, template=template, device=device, dtype=dtype)
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    result = evaluate(
        tuned_model, base_model, samples, judge=judge, settings=settings, max_len=max_len
    )
    paths = write_eval(result, out)
    for line in summary_lines(result):
        typer.echo(line)
    typer.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    if result.summary.get("judge_failed"):
        raise typer.Exit(2)
