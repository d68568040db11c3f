"""``sftforge train --dry-run``: what a run would do, before it does it.

Trainable and total parameters are counted on the real model structure built on PyTorch's
``meta`` device (no weights are loaded, no memory used), with the LoRA adapters peft would add.
Rows and tokens come from sftforge's tokenization of the data, as the run would see them. Memory
is an estimate, term by term, of the peak of one micro-batch of the longest rows:

- weights: parameters x bytes of the precision (QLoRA: the linear layers' weights at 4 bits plus
  their quantisation constants, the rest at 16 bits); LoRA adapters are float32 (peft's default);
- gradients and AdamW's two moments: for the trainable parameters only, in their dtype;
- activations: per token and layer about ``16 h + 3 i`` values (attention inputs and outputs,
  norms, residuals, the SwiGLU MLP) without gradient checkpointing, only the layer input ``h``
  with it (plus one layer recomputed); attention is sdpa/flash, so no ``s^2`` term;
- logits: batch x length x vocabulary, in the precision plus a float32 copy and its gradient;
- on CUDA, about 0.5 GiB of context and allocator slack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .config import TrainConfig
from .data import load_train_data
from .loop import check_model_folder, resolve_precision, schedule

__all__ = [
    "MemoryEstimate",
    "TrainPlan",
    "count_parameters",
    "estimate_memory",
    "format_plan",
    "make_plan",
]

_GIB = 2**30
_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gib: float
    gradients_gib: float
    optimizer_gib: float
    activations_gib: float
    logits_gib: float
    overhead_gib: float

    @property
    def total_gib(self) -> float:
        return round(sum(asdict(self).values()), 3)


@dataclass(frozen=True)
class TrainPlan:
    method: str
    device: str
    precision: str
    total_params: int
    trainable_params: int
    train_rows: int
    val_rows: int
    tokens_per_epoch: int
    trained_tokens_per_epoch: int
    longest_row: int
    steps: int
    warmup_steps: int
    epochs: float
    memory: MemoryEstimate

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["memory"]["total_gib"] = self.memory.total_gib
        return d


@dataclass(frozen=True)
class _Shape:
    total: int
    trainable: int
    linear: int  # weights in the decoder's linear layers (what QLoRA quantises)
    hidden: int
    intermediate: int
    layers: int
    vocab: int


def count_parameters(config: TrainConfig) -> _Shape:
    """Parameter counts of ``config.model`` with ``config.method``'s adapters, on ``meta``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_dir = Path(config.model)
    if not (model_dir / "config.json").is_file():
        raise InputError(f"'{model_dir}' is not a model folder (no config.json).", field="model")
    mconf = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(mconf)
    linear = sum(
        m.weight.numel()
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and not name.endswith("lm_head")
    )
    total = sum(p.numel() for p in model.parameters())
    trainable = total
    if config.method != "full":
        from peft import LoraConfig, get_peft_model

        targets: Any = (
            "all-linear" if config.target_modules == ["all-linear"] else config.target_modules
        )
        peft_model = get_peft_model(
            model,
            LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                target_modules=targets,
                task_type="CAUSAL_LM",
            ),
        )
        trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
        total += trainable
    text = getattr(mconf, "text_config", None) or mconf
    return _Shape(
        total=total,
        trainable=trainable,
        linear=linear,
        hidden=int(text.hidden_size),
        intermediate=int(getattr(text, "intermediate_size", 4 * text.hidden_size)),
        layers=int(text.num_hidden_layers),
        vocab=int(text.vocab_size),
    )


def estimate_memory(
    config: TrainConfig, shape: _Shape, precision: str, seq_len: int, cuda: bool
) -> MemoryEstimate:
    """The peak memory of a step, term by term (see the module doc); GiB."""
    nbytes = _BYTES[precision]
    if config.method == "qlora":
        # 4 bits a weight plus double-quantised constants (~0.127 bits); 16-bit for the rest
        weights = (
            shape.linear * (0.5 + 0.127 / 8) + (shape.total - shape.trainable - shape.linear) * 2
        )
        weights += shape.trainable * 4
    elif config.method == "lora":
        weights = (shape.total - shape.trainable) * nbytes + shape.trainable * 4
    else:
        weights = shape.total * nbytes
    trainable_bytes = 4 if config.method != "full" else nbytes
    grads = shape.trainable * trainable_bytes
    optim = 2 * shape.trainable * trainable_bytes
    act_bytes = 2 if precision != "fp32" or config.method == "qlora" else 4
    tokens = config.batch_size * seq_len
    per_layer = tokens * (16 * shape.hidden + 3 * shape.intermediate) * act_bytes
    if config.gradient_checkpointing:
        acts = shape.layers * tokens * shape.hidden * act_bytes + per_layer
    else:
        acts = shape.layers * per_layer
    logits = tokens * shape.vocab * (act_bytes + 4 + 4)
    return MemoryEstimate(
        weights_gib=round(weights / _GIB, 3),
        gradients_gib=round(grads / _GIB, 3),
        optimizer_gib=round(optim / _GIB, 3),
        activations_gib=round(acts / _GIB, 3),
        logits_gib=round(logits / _GIB, 3),
        overhead_gib=0.5 if cuda else 0.0,
    )


def make_plan(config: TrainConfig, *, device: str | None = None) -> TrainPlan:
    """The plan of ``config`` on ``device`` (default: cuda when there is one, else cpu)."""
    import torch

    from ..chat.encode import load_tokenizer

    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")) == "cuda"
    precision = resolve_precision(config, cuda)
    if config.method == "qlora" and precision == "fp32":
        precision = "bf16"  # QLoRA computes in 16 bits
    check_model_folder(config)
    tokenizer = load_tokenizer(config.model)
    data = load_train_data(config, tokenizer, rejects=None)
    shape = count_parameters(config)
    steps, warmup, per_epoch = schedule(config, len(data.train))
    longest = max(len(r.input_ids) for r in data.train)
    epochs = steps * config.grad_accum / per_epoch
    return TrainPlan(
        method=config.method,
        device="cuda" if cuda else "cpu",
        precision=precision,
        total_params=shape.total,
        trainable_params=shape.trainable,
        train_rows=len(data.train),
        val_rows=len(data.val),
        tokens_per_epoch=data.train_tokens,
        trained_tokens_per_epoch=data.trained_tokens,
        longest_row=longest,
        steps=steps,
        warmup_steps=warmup,
        epochs=round(epochs, 3),
        memory=estimate_memory(config, shape, precision, longest, cuda),
    )


def format_plan(plan: TrainPlan) -> str:
    pct = 100 * plan.trainable_params / plan.total_params if plan.total_params else 0.0
    m = plan.memory
    rows = [
        ("method", f"{plan.method} on {plan.device}, {plan.precision}"),
        (
            "parameters",
            f"{plan.trainable_params:,} trainable of {plan.total_params:,} ({pct:.2f}%)",
        ),
        ("rows", f"{plan.train_rows:,} train, {plan.val_rows:,} validation"),
        (
            "tokens per epoch",
            f"{plan.tokens_per_epoch:,} ({plan.trained_tokens_per_epoch:,} trained)",
        ),
        ("longest row", f"{plan.longest_row:,} tokens"),
        ("steps", f"{plan.steps:,} ({plan.epochs:g} epochs, {plan.warmup_steps:,} warmup)"),
        ("memory (estimate)", f"{m.total_gib:.2f} GiB"),
        ("  weights", f"{m.weights_gib:.3f} GiB"),
        ("  gradients", f"{m.gradients_gib:.3f} GiB"),
        ("  optimizer", f"{m.optimizer_gib:.3f} GiB"),
        ("  activations", f"{m.activations_gib:.3f} GiB"),
        ("  logits", f"{m.logits_gib:.3f} GiB"),
        ("  overhead", f"{m.overhead_gib:.3f} GiB"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
