"""``TrainConfig``: every setting of a training run, from a YAML file and from flags.

The YAML file is a flat mapping of the same shape as a recipe's top level (``model:``, ``data:``,
``lr:`` ...), read as recipes are (``sftforge.yamlfile``: safe_load, size and aliases bounded);
an unknown key is refused with the nearest known one.
Flags override the file. The defaults suit LoRA of a 1.5-2B model on one 24 GB GPU: r 16 on every
linear layer, lr 2e-4 with cosine decay, batch 4 x 4 accumulation, max length 2048, gradient
checkpointing on (the settings LLaMA-Factory's and TRL's LoRA examples use for that size).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..yamlfile import read_yaml_file

__all__ = [
    "METHODS",
    "PRECISIONS",
    "SCHEDULERS",
    "TrainConfig",
    "load_config",
]

METHODS = ("lora", "qlora", "full")
SCHEDULERS = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
Method = Literal["lora", "qlora", "full"]


@dataclass(kw_only=True)
class TrainConfig:
    """One training run. ``model``: a local model folder; ``data``: a dataset file, the Parquet
    ``tokenize`` writes, or a run folder; ``output``: the training run folder."""

    model: str = ""
    data: str = ""
    output: str = "runs/train"
    method: Method = "lora"
    # optimisation
    lr: float = 2e-4
    scheduler: str = "cosine"
    warmup: float = 0.03  # a fraction of the steps when below 1, else a number of steps
    epochs: float = 3.0
    max_steps: int | None = None  # when set, overrides epochs
    batch_size: int = 4
    grad_accum: int = 4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    # data
    max_len: int = 2048
    packing: bool = False
    template: str | None = None  # None: the tokenizer's own chat template
    train_on: str = "all"
    val_ratio: float = 0.05  # carved from train when the data has no validation split
    # memory and precision
    precision: str = "auto"  # auto: bf16 where the GPU has it, fp16 on other GPUs, fp32 on CPU
    gradient_checkpointing: bool = True
    # cadence
    eval_every: int = 100
    save_every: int = 200
    log_every: int = 1
    seed: int = 42

    def __post_init__(self) -> None:
        _check_choice("method", self.method, METHODS)
        _check_choice("scheduler", self.scheduler, SCHEDULERS)
        _check_choice("precision", self.precision, PRECISIONS)
        for name in ("batch_size", "grad_accum", "lora_r", "max_len", "eval_every", "save_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(
                    f"{name} must be at least 1, got {getattr(self, name)}.", field=name
                )
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(
                f"max_steps must be at least 1, got {self.max_steps}.", field="max_steps"
            )
        if self.max_steps is None and self.epochs <= 0:
            raise InputError(f"epochs must be positive, got {self.epochs}.", field="epochs")
        if not 0 <= self.val_ratio < 1:
            raise InputError(
                f"val_ratio must be in [0, 1), got {self.val_ratio}.", field="val_ratio"
            )
        if self.lr <= 0:
            raise InputError(f"lr must be positive, got {self.lr}.", field="lr")
        if isinstance(self.target_modules, str):
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the given (flag) values; ``None`` means the flag was not given."""
        given = {k: v for k, v in overrides.items() if v is not None}
        _check_keys(given, "flags")
        return replace(self, **given)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(
            f"{name} '{value}' is not known.", field=name, hint=f"use one of: {', '.join(choices)}"
        )


KEYS = tuple(f.name for f in fields(TrainConfig))


def _check_keys(data: dict[str, Any], where: str) -> None:
    for key in data:
        if key not in KEYS:
            near = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(KEYS)}"
            raise InputError(f"unknown training setting '{key}'.", file=where, field=key, hint=hint)


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """The settings of ``path`` (a YAML mapping; None: the defaults) with ``overrides`` on top."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        loaded = read_yaml_file(p, "training settings file", InputError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InputError(
                "the training settings must be a mapping (key: value per line).",
                file=str(p),
                hint="e.g. model: path/to/model",
            )
        _check_keys(loaded, str(p))
        data = loaded
        base = p.parent
        for key in ("model", "data", "output"):  # relative paths are relative to the file
            value = data.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                data[key] = str(base / value)
    try:
        config = TrainConfig(**data)
    except TypeError as exc:
        raise InputError(f"bad training settings: {exc}", file=str(path)) from None
    return config.with_overrides(overrides)
