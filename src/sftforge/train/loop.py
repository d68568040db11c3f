"""The training loop: one readable function on transformers + peft (in the manner of litgpt's
``finetune/lora.py``), no trainer library.

- Methods: ``lora`` (peft LoRA on ``target_modules``), ``qlora`` (the base loaded in 4-bit NF4
  with bitsandbytes, CUDA only; on CPU one line says so) and ``full``.
- Batches: the order of the rows is a permutation seeded by ``seed + epoch``, and micro-batch
  ``m`` is a function of ``m`` alone (``micro_batch``), so the data position of a resumed run is
  just the step it resumes from.
- Rows are right-padded; no attention mask is passed, only ``position_ids`` that restart at 0 at
  every packed sample and at the padding. transformers turns restarting position ids into a
  block-diagonal causal mask (sdpa/eager) or variable-length flash attention
  (``flash_attention_2``), so packed samples never attend to each other and real tokens never see
  padding (a test compares packed and separate logits).
- Loss: the sum of token cross-entropies of a whole optimizer step divided by its trained tokens,
  so gradient accumulation weighs every token alike whatever the micro-batch lengths.
- Every ``eval_every`` steps the validation loss; every ``save_every`` steps a checkpoint
  (``checkpoint.py``); the log and chart as the run goes (``log.py``, ``chart.py``).
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..errors import InputError, MissingDependency
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import TrainData, TrainRow, load_train_data, row_tensors_of
from .log import TrainLog

__all__ = [
    "TrainResult",
    "batch_tensors",
    "check_model_folder",
    "load_model",
    "micro_batch",
    "packing_refusal",
    "resolve_precision",
    "run_training",
    "schedule",
]

IGNORE_INDEX = -100
_CHART_SECONDS = 15.0  # redraw the chart at most this often (matplotlib: 0.1-0.7 s a figure)


@dataclass
class TrainResult:
    output: Path
    steps: int
    final_loss: float | None
    eval_loss: float | None
    tokens: int
    seconds: float
    tokens_per_s: float
    peak_memory_mb: float
    weights: Path
    resumed_from: int | None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["output"], d["weights"] = str(self.output), str(self.weights)
        return d


# -- devices, precision, model -------------------------------------------------------------------
def resolve_precision(config: TrainConfig, cuda: bool) -> str:
    if config.precision != "auto":
        return config.precision
    if not cuda:
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def check_model_folder(config: TrainConfig) -> Path:
    """``config.model`` as a folder holding a model, or the one-line error saying so."""
    model_dir = Path(config.model)
    if not config.model or not (model_dir / "config.json").is_file():
        raise InputError(
            f"'{model_dir}' is not a model folder (no config.json)."
            if config.model
            else "no model to train.",
            field="model",
            hint="pass --model with a local folder holding config.json, the weights and the tokenizer",
        )
    return model_dir


def load_model(config: TrainConfig, device: str, precision: str) -> Any:
    """The model of ``config.model`` on ``device``, with LoRA/QLoRA adapters or all weights
    trainable; gradient checkpointing as set."""
    from transformers import AutoModelForCausalLM

    model_dir = check_model_folder(config)
    kwargs: dict[str, Any] = {"dtype": _dtype(precision)}
    if config.method == "qlora":
        kwargs["quantization_config"] = _four_bit(device, precision)
        kwargs["device_map"] = {"": 0}
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    if config.method != "qlora":
        model.to(device)
    model.config.use_cache = False
    if config.method == "full":
        if config.gradient_checkpointing:
            _checkpointing(model)
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif config.gradient_checkpointing:
        _checkpointing(model)
    targets: Any = config.target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:
        raise InputError(
            f"LoRA cannot target {config.target_modules}: {exc}",
            field="target_modules",
            hint="use all-linear, or module names of this model such as q_proj,v_proj",
        ) from None
    return model


# attention kinds whose masks transformers derives from restarting position ids
_MASKED_ATTENTION = {"full_attention", "sliding_attention", "chunked_attention"}
# models that mix tokens outside attention (state-space, recurrent, convolution layers)
_MIXING_MODELS = {"mamba", "mamba2", "falcon_mamba", "rwkv", "jamba", "zamba", "zamba2", "lfm2",
                  "bamba", "falcon_h1", "granitemoehybrid", "nemotron_h", "recurrent_gemma",
                  "qwen3_next"}  # fmt: skip


def packing_refusal(model_config: Any) -> str | None:
    """Why packed rows would leak across samples in this model, or None. Position ids keep
    samples apart only in attention layers; linear-attention, state-space and convolution layers
    carry state from one sample into the next (transformers' padding-free guide says the same)."""
    text = getattr(model_config, "text_config", None) or model_config
    kind = str(getattr(text, "model_type", ""))
    other = sorted({str(t) for t in getattr(text, "layer_types", None) or []} - _MASKED_ATTENTION)
    if kind in _MIXING_MODELS or other:
        layers = f" ({', '.join(other)} layers)" if other else ""
        return (
            f"packing keeps samples apart through attention position ids, and a '{kind}' model"
            f"{layers} also mixes tokens outside attention, so packed samples would see each other"
        )
    return None


def _checkpointing(model: Any) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant: no need for the
    inputs to require grad under LoRA); transformers 5 names it activation checkpointing."""
    kwargs = {"use_reentrant": False}
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs=kwargs)
    else:  # transformers 4
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _four_bit(device: str, precision: str) -> Any:
    if device != "cuda":
        raise InputError(
            "QLoRA loads the model in 4-bit with bitsandbytes, which needs a CUDA GPU; none is here.",
            field="method",
            hint="use --method lora (or full) on this machine, or run QLoRA where a GPU is",
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise MissingDependency("bitsandbytes", "train", "QLoRA") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=_dtype(precision if precision != "fp32" else "bf16"),
    )


# -- batches ---------------------------------------------------------------------------------------
def micro_batch(rows: list[TrainRow], index: int, batch_size: int, seed: int) -> list[TrainRow]:
    """Micro-batch ``index`` of the endless stream: epoch after epoch, each in its own seeded
    order; a function of ``index`` alone, so resuming needs no saved iterator."""
    import torch

    per_epoch = math.ceil(len(rows) / batch_size)
    epoch, j = divmod(index, per_epoch)
    order = torch.randperm(
        len(rows), generator=torch.Generator().manual_seed(seed + epoch)
    ).tolist()
    return [rows[i] for i in order[j * batch_size : (j + 1) * batch_size]]


def batch_tensors(rows: list[TrainRow], pad_id: int, device: str) -> dict[str, Any]:
    """``input_ids``, ``labels`` and ``position_ids`` of right-padded rows (the padding gets its
    own position ids from 0, a segment of its own, and -100 labels); ``tokens``: the real ones."""
    import torch

    width = max(len(r.input_ids) for r in rows)
    ids, labels, pos = [], [], []
    for row in rows:
        i, lab, p = row_tensors_of(row)
        pad = width - len(i)
        ids.append(i + [pad_id] * pad)
        labels.append(lab + [IGNORE_INDEX] * pad)
        pos.append(p + list(range(pad)))
    return {
        "input_ids": torch.tensor(ids, device=device),
        "labels": torch.tensor(labels, device=device),
        "position_ids": torch.tensor(pos, device=device),
        "tokens": sum(len(r.input_ids) for r in rows),
    }


def _loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Sum of the token losses of ``batch`` and the number of tokens trained."""
    import torch

    logits = model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).logits
    # position t predicts label t+1: shift the labels (one -100 at the end), not the logits, so
    # the logits are never copied (a slice of them is not contiguous)
    labels = batch["labels"]
    targets = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
    loss = torch.nn.functional.cross_entropy(
        logits.float().view(-1, logits.size(-1)),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return loss, int((targets != IGNORE_INDEX).sum())


def _evaluate(
    model: Any, rows: list[TrainRow], config: TrainConfig, pad_id: int, device: str
) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), config.batch_size):
            loss, n = _loss_sum(
                model, batch_tensors(rows[start : start + config.batch_size], pad_id, device)
            )
            total += float(loss.detach())
            count += n
    model.train()
    return total / max(count, 1)


def schedule(config: TrainConfig, n_rows: int) -> tuple[int, int, int]:
    """``(steps, warmup steps, micro-batches per epoch)``."""
    per_epoch = math.ceil(n_rows / config.batch_size)
    if config.max_steps is not None:
        steps = config.max_steps
    else:
        steps = max(1, math.ceil(per_epoch * config.epochs / config.grad_accum))
    warmup = int(config.warmup) if config.warmup >= 1 else round(config.warmup * steps)
    return steps, warmup, per_epoch


def _peak_memory_mb(device: str) -> float:
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _save_weights(model: Any, tokenizer: Any, config: TrainConfig, out: Path) -> Path:
    target = out / ("model" if config.method == "full" else "adapter")
    if config.method == "full":
        model.save_pretrained(target)
    else:  # the adapter alone (an adapted lm_head is saved as its LoRA, not as a whole matrix)
        model.save_pretrained(target, save_embedding_layers=False)
    tokenizer.save_pretrained(target)
    return target


# -- the run ---------------------------------------------------------------------------------------
def run_training(
    config: TrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    observe: Callable[[dict[str, Any]], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as ``config`` says into ``config.output``. ``resume``: continue from the latest
    checkpoint there. ``stop_after``: stop (with a checkpoint) after that many steps, as a kill
    would. ``observe`` sees every micro-batch's tensors as the model gets them."""
    import torch
    from transformers import get_scheduler, set_seed

    from ..chat.encode import load_tokenizer
    from .chart import write_charts

    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    tell = say or (lambda _msg: None)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    precision = resolve_precision(config, cuda)
    if config.method == "qlora" and not cuda:
        _four_bit(device, precision)  # the one-line error before any work
    if precision != "fp32" and not cuda:
        raise InputError(
            f"precision {precision} is for GPUs; this machine has none.",
            field="precision",
            hint="use --precision auto or fp32 on CPU",
        )
    settings = config.to_dict()
    (out / "config.yaml").write_text(
        yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    check_model_folder(config)
    tokenizer = load_tokenizer(config.model)
    pad_id = (
        tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else (tokenizer.eos_token_id or 0)
    )
    rejects = out / "rejects.jsonl"
    rejects.unlink(missing_ok=True)
    data: TrainData = load_train_data(config, tokenizer, rejects=rejects)
    for note in data.notes:
        tell(note)
    if data.rejected:
        tell(f"{data.rejected} samples rejected: see {rejects}")

    if data.packed:
        from transformers import AutoConfig

        refusal = packing_refusal(AutoConfig.from_pretrained(config.model))
        if refusal is not None:
            raise InputError(refusal + ".", field="packing", hint="train with --no-packing")
    set_seed(config.seed)
    model = load_model(config, device, precision)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    steps, warmup, per_epoch = schedule(config, len(data.train))
    name = "constant_with_warmup" if config.scheduler == "constant" else config.scheduler
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=steps)

    log = TrainLog(out / "train_log.jsonl")
    ckpt_dir = out / "checkpoints"
    start, resumed_from, tokens_seen = 0, None, 0
    latest = latest_checkpoint(ckpt_dir) if resume else None
    if resume and latest is None:
        tell("no checkpoint to resume from: starting afresh")
    if latest is not None:
        state = load_checkpoint(latest, model, optimizer, scheduler, settings)
        start = resumed_from = int(state["step"])
        tokens_seen = int(state.get("tokens", 0))
        log.truncate_after(start)
        tell(f"resumed from {latest.name}")
    else:
        log.reset()

    title = f"{Path(config.model).name} · {config.method} · {Path(config.data).name}"
    last_chart = 0.0
    began = time.perf_counter()
    run_tokens = 0
    loss_value = eval_loss = None
    step = start
    for step in range(start + 1, steps + 1):
        t0 = time.perf_counter()
        micro = [
            batch_tensors(
                micro_batch(data.train, m, config.batch_size, config.seed), pad_id, device
            )
            for m in range((step - 1) * config.grad_accum, step * config.grad_accum)
        ]
        n_trained = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
        total = 0.0
        for batch in micro:
            if observe is not None:
                observe(batch)
            loss, _ = _loss_sum(model, batch)
            (loss / max(n_trained, 1)).backward()
            total += float(loss.detach())
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        n_tokens = sum(b["tokens"] for b in micro)
        tokens_seen += n_tokens
        run_tokens += n_tokens
        seconds = time.perf_counter() - t0
        loss_value = total / max(n_trained, 1)
        record: dict[str, Any] = {
            "step": step,
            "epoch": round(step * config.grad_accum / per_epoch, 4),
            "loss": round(loss_value, 6),
            "lr": lr,
            "grad_norm": round(grad_norm, 6),
            "tokens_per_s": round(n_tokens / seconds, 1) if seconds > 0 else None,
            "memory_mb": round(_peak_memory_mb(device), 1),
        }
        if data.val and (step % config.eval_every == 0 or step == steps):
            eval_loss = _evaluate(model, data.val, config, pad_id, device)
            record["eval_loss"] = round(eval_loss, 6)
        if step % config.log_every == 0 or "eval_loss" in record or step == steps:
            log.write(record)
        stopping = stop_after is not None and step >= stop_after
        if step % config.save_every == 0 or stopping:
            save_checkpoint(
                ckpt_dir, step, model, optimizer, scheduler, settings, {"tokens": tokens_seen}
            )
        now = time.perf_counter()
        if now - last_chart >= _CHART_SECONDS:
            write_charts(log.path, out, title=title, running=True)
            last_chart = now
        if stopping:
            break
    seconds = time.perf_counter() - began
    write_charts(log.path, out, title=title, running=False)
    weights = _save_weights(model, tokenizer, config, out) if step >= steps else ckpt_dir
    result = TrainResult(
        output=out,
        steps=step,
        final_loss=loss_value,
        eval_loss=eval_loss,
        tokens=run_tokens,
        seconds=round(seconds, 3),
        tokens_per_s=round(run_tokens / seconds, 1) if seconds > 0 else 0.0,
        peak_memory_mb=round(_peak_memory_mb(device), 1),
        weights=weights,
        resumed_from=resumed_from,
    )
    summary = {**result.to_dict(), "device": device, "precision": precision, "data_source": data.source,
               "data": config.data, "model": config.model, "train_rows": len(data.train),
               "val_rows": len(data.val), "rejected": data.rejected}  # fmt: skip
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return result
