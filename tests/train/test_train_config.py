"""Training settings from YAML and flags, the one-line errors, and ``--dry-run``'s figures."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from train_fixtures import TINY_TARGETS

from sftforge.chat.inputs import read_samples
from sftforge.chat.tokenize import tokenize_samples
from sftforge.cli.main import main
from sftforge.errors import InputError
from sftforge.train.config import TrainConfig, load_config
from sftforge.train.loop import load_model


def test_yaml_settings_with_flags_on_top(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("model: models/m\nlr: 1.0e-4\nlora_r: 8\npacking: true\n", encoding="utf-8")
    config = load_config(path, lr=3e-4, epochs=None)
    assert config.lr == 3e-4  # the flag wins
    assert config.lora_r == 8 and config.packing is True and config.epochs == 3.0  # file, default
    assert config.model == str(tmp_path / "models" / "m")  # relative to the file


def test_defaults_suit_a_2b_model_on_a_24gb_gpu() -> None:
    c = TrainConfig()
    assert (c.method, c.lora_r, c.lora_alpha, c.target_modules) == ("lora", 16, 32, ["all-linear"])
    assert (c.batch_size * c.grad_accum, c.max_len, c.gradient_checkpointing) == (16, 2048, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lora_rank: 8\n", "unknown training setting 'lora_rank'.*did you mean 'lora_r'"),
        ("method: dora\n", "method 'dora' is not known.*lora, qlora, full"),
        ("batch_size: 0\n", "batch_size must be at least 1"),
        ("- a\n- b\n", "must be a mapping"),
        ("lr: [1\n", "not valid YAML"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_settings_files_are_read_as_safely_as_recipes(tmp_path: Path) -> None:
    # the recipe's reader: aliases that expand ("billion laughs"), bytes that are not UTF-8, a
    # missing file: each one error naming the file, never a traceback or a hang
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, k in zip("abcdef", "bcdefg", strict=True)
    )
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(laughs, encoding="utf-8")
    with pytest.raises(InputError, match="expands to more than") as info:
        load_config(bomb)
    assert info.value.file == str(bomb)
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("model: 模型\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8 text"):
        load_config(gbk)
    with pytest.raises(InputError, match="cannot read the training settings file"):
        load_config(tmp_path / "missing.yaml")


def test_qlora_on_cpu_is_one_line_with_the_fix(
    llama_dir: Path, chat_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--model", str(llama_dir), "--data", str(chat_file), "-o", str(tmp_path / "q")]
    assert main([*args, "--method", "qlora"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "needs a CUDA GPU" in err and "--method lora" in err


def test_dry_run_figures(
    llama_dir: Path, chat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["-q", "train", "--model", str(llama_dir), "--data", str(chat_file), "--batch-size", "2"]
    args += ["--grad-accum", "2", "--epochs", "2", "--max-len", "128", "--target-modules"]
    assert main([*args, ",".join(TINY_TARGETS), "--dry-run", "--json"]) == 0
    plan = orjson.loads(capsys.readouterr().out)
    # the trainable parameters of the model the run would build
    config = TrainConfig(model=str(llama_dir), target_modules=TINY_TARGETS)
    model = load_model(config, "cpu", "fp32")
    assert plan["trainable_params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert plan["total_params"] == sum(p.numel() for p in model.parameters())
    # rows and tokens as sftforge's tokenizer makes them; 1 of 12 rows held out for validation
    rows = tokenize_samples(list(read_samples(chat_file)), str(llama_dir)).rows
    assert (plan["train_rows"], plan["val_rows"]) == (11, 1)
    assert max(len(r.input_ids) for r in rows) >= plan["longest_row"]
    total = sum(len(r.input_ids) for r in rows)
    assert total - max(len(r.input_ids) for r in rows) <= plan["tokens_per_epoch"] < total
    assert plan["steps"] == math.ceil(math.ceil(11 / 2) * 2 / 2)
    mem = plan["memory"]
    assert mem["total_gib"] == pytest.approx(
        sum(v for k, v in mem.items() if k != "total_gib"), abs=2e-3
    )
    # fp32 on CPU: 4 bytes a frozen weight, the adapters in float32, AdamW's two moments
    assert mem["weights_gib"] == pytest.approx(plan["total_params"] * 4 / 2**30, abs=1e-3)
    assert mem["optimizer_gib"] == pytest.approx(2 * plan["trainable_params"] * 4 / 2**30, abs=1e-3)
    assert main([*args, "lm_head", "--dry-run"]) == 0
    table = capsys.readouterr().out
    assert "trainable of" in table and "memory (estimate)" in table


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_missing_model_or_data_is_one_line(
    llama_dir: Path,
    chat_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dry_run: list[str],
) -> None:
    out = ["-o", str(tmp_path / "o"), *dry_run]
    assert main(["train", "--model", str(tmp_path / "nope"), "--data", str(chat_file), *out]) == 1
    assert "is not a model folder (no config.json)" in capsys.readouterr().err
    assert (
        main(["train", "--model", str(llama_dir), "--data", str(tmp_path / "none.jsonl"), *out])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none.jsonl' does not exist" in err
