"""The memory and speed table of docs/choosing-a-method.md, made from ``train --dry-run``'s
estimates (``train.plan``), for real model shapes built from their configs (no weights, no
download: the parameters are counted on PyTorch's ``meta`` device).

Memory: ``plan.estimate_memory`` for one micro-batch of ``batch_size`` rows of ``max_len``
tokens, bf16 on one GPU, with the ``TrainConfig`` defaults (LoRA r 16 on every linear layer,
gradient checkpointing on, AdamW).

Speed is a compute estimate, not a measurement: training FLOPs per token, from the usual counts.
A forward pass costs ``2 N`` (``N`` the parameters in matrix multiplies, the output head included,
embeddings not) plus causal attention ``2 L s h`` (``L`` layers, ``s`` the length, ``h`` the
hidden size: on average a token attends to ``s/2`` earlier ones, twice ``2 h`` per position). Full
fine-tuning: forward + backward (input and weight gradients) = 3 forwards. LoRA and QLoRA: no
weight gradients for the frozen weights = 2 forwards. Gradient checkpointing recomputes the
forward: one forward more. QLoRA does the same arithmetic as LoRA and also dequantises every
4-bit weight at each use, which this count leaves out (it runs slower than LoRA in practice).
Minutes per million tokens assume ``EFFECTIVE_TFLOPS`` of sustained bf16 throughput (an
assumption, stated in the table).

Regenerate the table with ``python -m sftforge.train.method_table``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Method, TrainConfig
from .plan import count_parameters, estimate_memory

__all__ = ["EFFECTIVE_TFLOPS", "LENGTHS", "METHODS", "SHAPES", "MethodRow", "markdown", "rows"]

METHODS: tuple[Method, ...] = ("lora", "qlora", "full")
LENGTHS = (512, 1024, 2048, 4096)
EFFECTIVE_TFLOPS = 300.0  # ~30% of an H100's dense bf16 peak: an assumption, not a measurement
# public config.json values of the models the table is made for
SHAPES: dict[str, dict[str, Any]] = {
    "Qwen2.5-1.5B": dict(
        hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
        num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
    ),
    "Qwen2.5-7B": dict(
        hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class MethodRow:
    model: str
    method: str
    max_len: int
    memory_gib: float
    gflops_per_token: float

    @property
    def minutes_per_million_tokens(self) -> float:
        return self.gflops_per_token * 1e9 * 1e6 / (EFFECTIVE_TFLOPS * 1e12) / 60


def _model_dir(name: str, root: Path) -> Path:
    from transformers import Qwen2Config

    folder = root / name
    Qwen2Config(**SHAPES[name]).save_pretrained(folder)
    return folder


def _matmul_params(method: str, shape: Any, tied: bool) -> int:
    """The base model's parameters in matrix multiplies: all but the embedding lookup (a tied
    embedding is counted once, and is the output head's matrix). LoRA's adapters are left out
    (under 1% of the work at r 16)."""
    base = shape.total if method == "full" else shape.total - shape.trainable
    return int(base if tied else base - shape.vocab * shape.hidden)


def _gflops(method: str, shape: Any, tied: bool, seq_len: int, checkpointing: bool) -> float:
    forward = 2 * _matmul_params(method, shape, tied) + 2 * shape.layers * seq_len * shape.hidden
    passes = (3 if method == "full" else 2) + (1 if checkpointing else 0)
    return passes * forward / 1e9


def rows(batch_size: int = 4) -> list[MethodRow]:
    """Every (model, method, max length) row of the table."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SHAPES:
            folder = _model_dir(name, Path(tmp))
            shapes: dict[bool, Any] = {}  # LoRA and QLoRA add the same adapters: count once
            for method in METHODS:
                config = TrainConfig(model=str(folder), method=method, batch_size=batch_size)
                full = method == "full"
                shape = shapes[full] = shapes.get(full) or count_parameters(config)
                tied = bool(SHAPES[name]["tie_word_embeddings"])
                for length in LENGTHS:
                    memory = estimate_memory(config, shape, "bf16", length, cuda=True)
                    gflops = _gflops(method, shape, tied, length, config.gradient_checkpointing)
                    out.append(MethodRow(name, method, length, memory.total_gib, gflops))
    return out


def markdown(table: list[MethodRow]) -> str:
    head = (
        "| model | method | max length | memory (GiB) | GFLOPs / token | min / 1M tokens |\n"
        "|---|---|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r.model} | {r.method} | {r.max_len} | {r.memory_gib:.1f} | "
        f"{r.gflops_per_token:.1f} | {r.minutes_per_million_tokens:.1f} |\n"
        for r in table
    )
    return head + body


if __name__ == "__main__":
    print(markdown(rows()), end="")
