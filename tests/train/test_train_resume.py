"""A run killed mid-way (SIGKILL of the ``sftforge train`` process) and resumed ends with the same
adapter weights as an uninterrupted run, and one log that reads as a single run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import TINY_TARGETS

from sftforge.errors import InputError
from sftforge.train.config import TrainConfig
from sftforge.train.log import read_log
from sftforge.train.loop import run_training

STEPS = 30


def _config(model: Path, data: Path, out: Path, **kw: object) -> TrainConfig:
    return TrainConfig(
        model=str(model), data=str(data), output=str(out), lr=5e-3, batch_size=2, grad_accum=2,
        max_len=128, target_modules=TINY_TARGETS, lora_dropout=0.1, max_steps=STEPS,
        eval_every=20, seed=7, **{"save_every": 1, **kw},  # type: ignore[arg-type]
    )  # fmt: skip


def _flags(config: TrainConfig) -> list[str]:
    return [
        "--model", config.model, "--data", config.data, "--output", config.output,
        "--lr", str(config.lr), "--batch-size", "2", "--grad-accum", "2", "--max-len", "128",
        "--target-modules", ",".join(config.target_modules), "--lora-dropout", "0.1",
        "--max-steps", str(STEPS), "--eval-every", "20", "--save-every", "1", "--seed", "7",
    ]  # fmt: skip


def _steps_saved(out: Path) -> list[int]:
    folder = out / "checkpoints"
    if not folder.is_dir():
        return []
    return [int(p.name[5:]) for p in folder.iterdir() if p.name.startswith("step-")]


def test_killed_and_resumed_equals_uninterrupted(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    killed = _config(llama_dir, chat_file, tmp_path / "killed")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sftforge", "-q", "train", *_flags(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while max(_steps_saved(tmp_path / "killed"), default=0) < 3:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    reached = max(_steps_saved(tmp_path / "killed"))
    assert 3 <= reached < STEPS and not (tmp_path / "killed" / "adapter").exists()

    # checkpoints every step only where the kill may come: save_every is not a result setting
    resumed = run_training(replace(killed, save_every=1000), resume=True)
    assert resumed.resumed_from is not None and resumed.resumed_from >= 3
    run_training(_config(llama_dir, chat_file, tmp_path / "straight", save_every=1000))

    a = load_file(tmp_path / "killed" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "straight" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
    # the adapter moved away from its initialisation (lora_B starts at zero)
    assert any(float(v.abs().max()) > 0 for k, v in a.items() if "lora_B" in k)
    log = read_log(tmp_path / "killed" / "train_log.jsonl")
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))
    losses = [r["loss"] for r in read_log(tmp_path / "straight" / "train_log.jsonl")]
    assert [r["loss"] for r in log] == pytest.approx(losses, rel=1e-4)


def test_resume_refuses_a_checkpoint_of_other_settings(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    first = _config(llama_dir, chat_file, tmp_path / "run")
    run_training(first, stop_after=2)
    assert _steps_saved(tmp_path / "run") == [1, 2]
    other = TrainConfig(**{**first.to_dict(), "lr": 1e-3})
    with pytest.raises(InputError, match=r"other settings \(lr: 0.005 -> 0.001\)"):
        run_training(other, resume=True)
