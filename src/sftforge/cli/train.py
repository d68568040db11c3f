"""``sftforge train``: thin over ``sftforge.train`` (settings, plan, loop, hand-over)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from .main import app

__all__ = ["train_cmd"]


@app.command("train")
def train_cmd(
    config: Annotated[
        Path | None, typer.Argument(help="settings YAML (a mapping of the keys below)")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="local model folder")] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="dataset file, tokenize Parquet, or run folder"),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="training run folder")
    ] = None,
    method: Annotated[str | None, typer.Option("--method", help="lora|qlora|full")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="peak learning rate")] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="cosine|linear|constant")
    ] = None,
    warmup: Annotated[
        float | None, typer.Option("--warmup", help="warmup: a fraction of steps (<1) or steps")
    ] = None,
    epochs: Annotated[float | None, typer.Option("--epochs")] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="steps (overrides --epochs)")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="rows a micro-batch")
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option("--grad-accum", help="micro-batches a step")
    ] = None,
    lora_r: Annotated[int | None, typer.Option("--lora-r")] = None,
    lora_alpha: Annotated[int | None, typer.Option("--lora-alpha")] = None,
    lora_dropout: Annotated[float | None, typer.Option("--lora-dropout")] = None,
    target_modules: Annotated[
        str | None,
        typer.Option("--target-modules", help="all-linear, or names: q_proj,v_proj"),
    ] = None,
    max_len: Annotated[int | None, typer.Option("--max-len", help="tokens a row")] = None,
    packing: Annotated[
        bool | None, typer.Option("--packing/--no-packing", help="pack rows to --max-len")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="chat template (default: the tokenizer's)")
    ] = None,
    train_on: Annotated[str | None, typer.Option("--train-on", help="all|last|flags")] = None,
    val_ratio: Annotated[
        float | None,
        typer.Option("--val-ratio", help="held out for eval loss when the data has no validation"),
    ] = None,
    precision: Annotated[
        str | None, typer.Option("--precision", help="auto|bf16|fp16|fp32")
    ] = None,
    gradient_checkpointing: Annotated[
        bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing")
    ] = None,
    eval_every: Annotated[int | None, typer.Option("--eval-every", help="steps")] = None,
    save_every: Annotated[int | None, typer.Option("--save-every", help="steps")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan (params, tokens, steps, memory)")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="the plan or result as JSON")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from the latest checkpoint in --output")
    ] = False,
    with_: Annotated[
        str | None,
        typer.Option("--with", help="hand over to llamafactory|swift|xtuner instead"),
    ] = None,
) -> None:
    """Fine-tune a local model (LoRA, QLoRA or full) on sftforge's tokenized data.

    Writes into --output: config.yaml, train_log.jsonl, loss.png, loss.html (all updated while
    training), checkpoints/, adapter/ (or model/ for full) and summary.json. See docs/training.md.
    """
    from ..train.config import load_config

    overrides: dict[str, Any] = {
        "model": model, "data": data, "output": output, "method": method, "lr": lr,
        "scheduler": scheduler, "warmup": warmup, "epochs": epochs, "max_steps": max_steps,
        "batch_size": batch_size, "grad_accum": grad_accum, "lora_r": lora_r,
        "lora_alpha": lora_alpha, "lora_dropout": lora_dropout, "target_modules": target_modules,
        "max_len": max_len, "packing": packing, "template": template, "train_on": train_on, "val_ratio": val_ratio,
        "precision": precision, "gradient_checkpointing": gradient_checkpointing,
        "eval_every": eval_every, "save_every": save_every, "seed": seed,
    }  # fmt: skip
    if isinstance(target_modules, str):
        overrides["target_modules"] = [m.strip() for m in target_modules.split(",") if m.strip()]
    settings = load_config(config, **overrides)
    if with_ is not None:
        from ..train.handoff import hand_over

        result = hand_over(settings, with_, dry_run=dry_run, say=_say)
        typer.echo(orjson.dumps(result).decode() if json_out else f"log: {result['log']}")
        return
    if dry_run:
        from ..train.plan import format_plan, make_plan

        plan = make_plan(settings)
        if json_out:
            typer.echo(orjson.dumps(plan.to_dict(), option=orjson.OPT_INDENT_2).decode())
        else:
            typer.echo(format_plan(plan))
        return
    from ..train.loop import run_training

    done = run_training(settings, resume=resume, say=_say)
    if json_out:
        typer.echo(orjson.dumps(done.to_dict()).decode())
        return
    if done.final_loss is None:  # resumed a run that had already ended
        typer.echo(f"nothing left to train: {done.steps} steps done; weights: {done.weights}")
        return
    typer.echo(
        f"trained {done.steps} steps: loss {done.final_loss:.4f}"
        + (f", eval loss {done.eval_loss:.4f}" if done.eval_loss is not None else "")
        + f"; {done.tokens_per_s:,.0f} tokens/s, peak memory {done.peak_memory_mb:,.0f} MB"
    )
    typer.echo(
        f"weights: {done.weights}\nlog: {done.output / 'train_log.jsonl'}  chart: {done.output / 'loss.html'}"
    )


def _say(message: str) -> None:
    from ..progress import note

    note(message)
