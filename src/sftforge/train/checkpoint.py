"""Checkpoints of a training run, and resuming from the latest one.

A checkpoint is a folder ``checkpoints/step-NNNNNN`` with the trainable weights, the optimizer and
scheduler states, every RNG state (Python, NumPy, torch CPU and CUDA) and ``state.json`` (the step
reached, which is also the data position: the batch order is a function of the seed and the step,
see ``loop.micro_batch``). It is written under a temporary name and renamed, so a run killed while
saving leaves the previous checkpoint as the latest whole one. Resuming loads all of it, so the
resumed run continues exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError

__all__ = ["RESULT_KEYS", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

# the settings whose change makes a checkpoint belong to another run
RESULT_KEYS = (
    "model", "data", "method", "lr", "scheduler", "warmup", "epochs", "max_steps", "batch_size",
    "grad_accum", "weight_decay", "max_grad_norm", "lora_r", "lora_alpha", "lora_dropout",
    "target_modules", "max_len", "packing", "template", "train_on", "val_ratio", "precision",
    "seed",
)  # fmt: skip
_PREFIX = "step-"


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    # Python's and NumPy's states as plain lists (JSON), torch's as tensors: no pickles to load
    version, words, gauss = random.getstate()
    numpy_state: Any = np.random.get_state()
    kind, keys, pos, has_gauss, cached = numpy_state
    state: dict[str, Any] = {
        "python": [version, list(words), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    version, words, gauss = state["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    settings: dict[str, Any],
    extra: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` under ``folder``; keep the ``keep`` latest ones."""
    import torch

    final = folder / f"{_PREFIX}{step:06d}"
    tmp = folder / f".tmp-{_PREFIX}{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    trainable = {
        n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad
    }
    torch.save(trainable, tmp / "trainable.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = _rng_state()
    torch.save({k: rng.pop(k) for k in ("torch", "cuda") if k in rng}, tmp / "rng.pt")
    state = {
        "step": step,
        "settings": {k: settings.get(k) for k in RESULT_KEYS},
        "rng": rng,
        **extra,
    }
    (tmp / "state.json").write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in _checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _checkpoints(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if p.name.startswith(_PREFIX) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(folder: Path) -> Path | None:
    found = _checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, settings: dict[str, Any]
) -> dict[str, Any]:
    """Restore ``path`` into the model, optimizer, scheduler and RNGs; returns its state.json.
    Refuses a checkpoint made with other settings (it would not continue the same run)."""
    import torch

    state: dict[str, Any] = orjson.loads((path / "state.json").read_bytes())
    saved = state.get("settings") or {}
    changed = [k for k in RESULT_KEYS if saved.get(k) != settings.get(k)]
    if changed:
        diff = ", ".join(f"{k}: {saved.get(k)!r} -> {settings.get(k)!r}" for k in changed)
        raise InputError(
            f"the checkpoint was made with other settings ({diff}).",
            file=str(path),
            hint="resume with the same settings, or train into a new --output folder",
        )
    weights = torch.load(path / "trainable.pt", weights_only=True)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    _set_rng_state({**state["rng"], **torch.load(path / "rng.pt", weights_only=True)})
    return state
