"""``sftforge train --with``: the trainer's config carries the run's settings, the trainer's log
becomes the training log, a missing trainer is one line with the install command; and (slow, where
the peers' venvs exist) real LLaMA-Factory and ms-swift runs on the tiny model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from sftforge.cli.main import main
from sftforge.train.config import TrainConfig
from sftforge.train.handoff import hand_over, parse_trainer_log
from sftforge.train.log import read_log

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _venvs import peer_venv

# lines as LLaMA-Factory 0.9.5 and ms-swift 4.6 wrote them in runs on the tiny model
LF_LINES = [
    b'{"current_steps": 1, "total_steps": 5, "loss": 5.991522789001465, "lr": 0.0, "epoch": 0.16666666666666666, "percentage": 20.0, "elapsed_time": "0:00:02", "remaining_time": "0:00:09"}',
    b'{"current_steps": 2, "total_steps": 5, "loss": 5.957928657531738, "lr": 0.0002, "epoch": 0.3333333333333333, "percentage": 40.0, "elapsed_time": "0:00:03", "remaining_time": "0:00:04"}',
    b'{"current_steps": 2, "total_steps": 5, "eval_loss": 5.9, "epoch": 0.3333333333333333, "percentage": 40.0, "elapsed_time": "0:00:03", "remaining_time": "0:00:04"}',
    b'{"current_steps": 3, "total',  # being written
]
SWIFT_LINES = [
    b'{"loss": 5.99784708, "grad_norm": 0.51956034, "learning_rate": 0.0001809, "token_acc": 0.0, "epoch": 0.16666667, "global_step/max_steps": "1/5", "elapsed_time": "2s", "remaining_time": "7s", "train_speed(s/it)": 1.652224}',
    b'{"loss": "5.99379206", "grad_norm": 0.3550559, "learning_rate": 0.0001309, "memory(GiB)": 1.5, "epoch": 0.33333333, "global_step/max_steps": "2/5"}',
    b'{"train_runtime": 14.2, "train_samples_per_second": 0.7, "global_step/max_steps": "5/5"}',
]
# mmengine's LocalVisBackend (XTuner's runner) writes one scalars line per logged iteration
XTUNER_LINES = [
    b'{"lr": 2e-05, "data_time": 0.01, "loss": 2.5, "grad_norm": 3.1, "time": 0.9, "iter": 10, "memory": 5321, "step": 10}',
    b'{"lr": 4e-05, "data_time": 0.01, "loss": 2.1, "time": 0.9, "iter": 20, "memory": 5321, "step": 20}',
]


def test_trainer_logs_become_the_training_log() -> None:
    assert parse_trainer_log("llamafactory", LF_LINES) == [
        {"step": 1, "epoch": 0.16666666666666666, "loss": 5.991522789001465, "lr": 0.0},
        {
            "step": 2,
            "epoch": 0.3333333333333333,
            "loss": 5.957928657531738,
            "lr": 0.0002,
            "eval_loss": 5.9,
        },
    ]
    swift = parse_trainer_log("swift", SWIFT_LINES)
    assert [r["step"] for r in swift] == [1, 2]
    assert swift[1] == {"step": 2, "epoch": 0.33333333, "loss": 5.99379206, "lr": 0.0001309,
                        "grad_norm": 0.3550559, "memory_mb": 1536.0}  # fmt: skip
    assert parse_trainer_log("xtuner", XTUNER_LINES) == [
        {"step": 10, "loss": 2.5, "lr": 2e-05, "grad_norm": 3.1, "memory_mb": 5321.0},
        {"step": 20, "loss": 2.1, "lr": 4e-05, "memory_mb": 5321.0},
    ]


def _config(model: Path, data: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        model=str(model), data=str(data), output=str(out), lr=3e-4, batch_size=2, grad_accum=1,
        max_steps=5, lora_r=4, max_len=128, eval_every=2, seed=3,
    )  # fmt: skip


def test_the_trainers_config_carries_the_runs_settings(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    done = hand_over(_config(llama_dir, chat_file, tmp_path / "lf"), "llamafactory", dry_run=True)
    conf = yaml.safe_load(
        (Path(done["folder"]) / "sftforge_train.yaml").read_text(encoding="utf-8")
    )
    assert done["command"] == ["llamafactory-cli", "train", "sftforge_train.yaml"]
    assert (conf["learning_rate"], conf["max_steps"], conf["lora_rank"], conf["seed"]) == (
        3e-4,
        5,
        4,
        3,
    )
    assert (conf["per_device_train_batch_size"], conf["cutoff_len"], conf["val_size"]) == (
        2,
        128,
        0.05,
    )
    assert conf["dataset"] == "train" and (Path(done["folder"]) / "train.json").is_file()
    done = hand_over(_config(llama_dir, chat_file, tmp_path / "sw"), "swift", dry_run=True)
    script = (Path(done["folder"]) / "train_swift.sh").read_text(encoding="utf-8")
    for flag in ("--learning_rate 0.0003", "--max_steps 5", "--lora_rank 4", "--seed 3",
                 "--split_dataset_ratio 0.05", "--max_length 128"):  # fmt: skip
        assert flag in script
    assert script.count("--learning_rate") == 1


def test_a_missing_trainer_is_one_line_with_the_install_command(
    llama_dir: Path, chat_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    args = ["train", "--model", str(llama_dir), "--data", str(chat_file), "-o", str(tmp_path / "o")]
    assert main([*args, "--with", "swift"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install ms-swift" in err
    assert main([*args, "--with", "axolotl"]) == 1
    assert "use one of: llamafactory, swift, xtuner" in capsys.readouterr().err


def _torchaudio_stub(tmp_path: Path) -> str:
    """LLaMA-Factory imports torchaudio at module level; the peer venv has none that loads
    against the pinned torch (see bench/_venvs.py), so an empty package stands in for it."""
    stub = tmp_path / "stub" / "torchaudio"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("", encoding="utf-8")
    return str(stub.parent)


@pytest.mark.slow
@pytest.mark.parametrize("peer", ["llamafactory", "swift"])
def test_a_real_hand_over_fills_the_training_log(
    peer: str, llama_dir: Path, chat_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = peer_venv(peer) / "bin"
    if not venv.is_dir():
        pytest.skip(f"no {peer} venv at {venv} (see bench/_venvs.py)")
    monkeypatch.setenv("PATH", f"{venv}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", _torchaudio_stub(tmp_path))
    out = tmp_path / "run"
    done = hand_over(_config(llama_dir, chat_file, out), peer)
    assert done["returncode"] == 0
    log = read_log(out / "train_log.jsonl")
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5]
    assert all(r["loss"] > 0 for r in log if "loss" in r)
    assert (out / "loss.png").is_file() and "finished" in (out / "loss.html").read_text(
        encoding="utf-8"
    )


def test_unreadable_records_go_to_the_rejects_not_to_the_trainer(
    llama_dir: Path, tmp_path: Path
) -> None:
    from train_fixtures import chat_rows, write_rows

    rows = chat_rows(4)
    rows.insert(
        2,
        {
            "messages": [
                {"role": "user", "content": "空的回答"},
                {"role": "assistant", "content": ""},
            ]
        },
    )
    data = write_rows(tmp_path / "data.jsonl", rows)
    done = hand_over(_config(llama_dir, data, tmp_path / "o"), "llamafactory", dry_run=True)
    rejects = (tmp_path / "o" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 1 and '"line":3' in rejects[0] and "empty answer" in rejects[0]
    exported = yaml.safe_load((Path(done["folder"]) / "train.json").read_text(encoding="utf-8"))
    assert len(exported) == 4


def test_full_fine_tuning_is_not_handed_to_xtuners_lora_recipe(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from sftforge.errors import InputError

    config = replace(_config(llama_dir, chat_file, tmp_path / "o"), method="full")
    with pytest.raises(InputError, match="--method full cannot be handed over"):
        hand_over(config, "xtuner", dry_run=True)


def _trainer_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A stand-in ``llamafactory-cli`` on PATH (the real one runs in the slow test above)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "llamafactory-cli"
    exe.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_the_trainers_log_is_read_into_the_training_log_and_chart(
    llama_dir: Path, chat_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(b"\n".join(LF_LINES[:3]) + b"\n")
    _trainer_on_path(
        tmp_path, monkeypatch, f"mkdir -p saves/train && cp {lines} saves/train/trainer_log.jsonl"
    )
    out = tmp_path / "run"
    done = hand_over(_config(llama_dir, chat_file, out), "llamafactory")
    assert done["returncode"] == 0
    assert read_log(out / "train_log.jsonl") == parse_trainer_log("llamafactory", LF_LINES)
    assert (out / "loss.png").is_file() and "finished" in (out / "loss.html").read_text(
        encoding="utf-8"
    )


def test_a_trainer_that_exits_0_without_training_is_an_error(
    llama_dir: Path, chat_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftforge.errors import SftforgeError

    _trainer_on_path(tmp_path, monkeypatch, "echo usage: llamafactory-cli train CONFIG")
    with pytest.raises(SftforgeError, match="ended without logging a training step"):
        hand_over(_config(llama_dir, chat_file, tmp_path / "run"), "llamafactory")
    assert "usage:" in (tmp_path / "run" / "llamafactory.log").read_text(encoding="utf-8")
