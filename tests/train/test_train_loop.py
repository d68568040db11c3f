"""The training loop on tiny random Llama and Qwen2 models: the loss falls on a memorisable set,
the trainer consumes exactly the labels ``tokenize`` writes, packed samples never attend across,
and the log and chart are written while the run goes on."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from train_fixtures import TINY_TARGETS

from sftforge.chat.pack import pack_rows
from sftforge.chat.tokenize import TokenizedRow
from sftforge.cli.main import main
from sftforge.train.config import TrainConfig
from sftforge.train.data import row_tensors_of
from sftforge.train.log import LOG_KEYS, read_log
from sftforge.train.loop import batch_tensors, packing_refusal, run_training


def _config(model: Path, data: Path, out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(
        model=str(model), data=str(data), output=str(out), lr=1e-2, batch_size=4, grad_accum=1,
        max_len=128, target_modules=TINY_TARGETS, eval_every=10, save_every=1000, warmup=0,
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_lora_loss_falls_on_a_memorisable_set(
    arch: str, request: pytest.FixtureRequest, chat_file: Path, tmp_path: Path
) -> None:
    model = request.getfixturevalue(f"{arch}_dir")
    result = run_training(_config(model, chat_file, tmp_path / "run", max_steps=30))
    log = read_log(tmp_path / "run" / "train_log.jsonl")
    first, last = log[0]["loss"], log[-1]["loss"]
    # from chance level (ln of the vocabulary) to well under half of it
    assert first > 5.0
    assert last < first / 3, (first, last)
    assert result.eval_loss is not None and result.eval_loss < first / 2
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "run" / "adapter" / "tokenizer_config.json").is_file()


def test_the_labels_trained_are_the_ones_tokenize_wrote(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    parquet = tmp_path / "rows.parquet"
    assert (
        main(["-q", "tokenize", str(chat_file), str(parquet), "--tokenizer", str(llama_dir)]) == 0
    )
    written = pq.read_table(parquet).to_pydict()
    expected = sorted(
        zip(map(tuple, written["input_ids"]), map(tuple, written["labels"]), strict=True)
    )
    seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def observe(batch: dict[str, Any]) -> None:
        for ids, labels, pos in zip(
            batch["input_ids"].tolist(),
            batch["labels"].tolist(),
            batch["position_ids"].tolist(),
            strict=True,
        ):
            # the padding is where the position ids restart: cut it off
            n = next((k for k in range(1, len(pos)) if pos[k] == 0), len(pos))
            seen.append((tuple(ids[:n]), tuple(labels[:n])))

    n_rows = len(expected)
    # one epoch of the dataset file, batch 1: every row once; and the same from the Parquet
    for data in (chat_file, parquet):
        seen.clear()
        run_training(
            _config(
                llama_dir, data, tmp_path / data.stem, max_steps=n_rows, batch_size=1, val_ratio=0
            ),
            observe=observe,
        )
        assert sorted(seen) == expected


def test_packed_samples_never_attend_to_each_other(llama_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    rows = [
        TokenizedRow(f"r{i}", [5 + i + k for k in range(n)], [1] * n)
        for i, n in enumerate((9, 6, 4))
    ]
    packed, _ = pack_rows(rows, 32)
    assert len(packed) == 1 and packed[0].seq_lens == [9, 6, 4]
    with torch.no_grad():
        batch = batch_tensors([*packed, rows[0]], pad_id=0, device="cpu")  # padded second row
        logits = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits
        start = 0
        for row in rows:
            alone = model(input_ids=torch.tensor([row.input_ids])).logits[0]
            n = len(row.input_ids)
            torch.testing.assert_close(logits[0, start : start + n], alone, rtol=1e-4, atol=1e-5)
            start += n
        # the unpacked row beside it is padded: its real tokens do not see the padding
        alone = model(input_ids=torch.tensor([rows[0].input_ids])).logits[0]
        torch.testing.assert_close(logits[1, :9], alone, rtol=1e-4, atol=1e-5)
    _ids, labels, pos = row_tensors_of(packed[0])
    assert pos == [*range(9), *range(6), *range(4)]
    assert labels[9] == labels[15] == -100  # a sample's first target is never the previous one's


def test_packed_training_runs_and_logs_while_running(
    qwen2_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    steps_seen: list[int] = []

    def observe(_batch: dict[str, Any]) -> None:
        records = read_log(out / "train_log.jsonl")
        steps_seen.append(len(records))
        if records:  # written before the run ends: the chart of the first steps is there
            assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert "<polyline" in (out / "loss.html").read_text(encoding="utf-8")

    result = run_training(
        _config(qwen2_dir, chat_file, out, max_steps=6, packing=True, eval_every=3, batch_size=2),
        observe=observe,
    )
    assert steps_seen[:3] == [0, 1, 2]
    records = read_log(out / "train_log.jsonl")
    assert [r["step"] for r in records] == list(range(1, 7))
    for r in records:
        assert (
            {"step", "loss", "lr", "grad_norm", "tokens_per_s", "memory_mb"}
            <= set(r)
            <= set(LOG_KEYS)
        )
        assert math.isfinite(r["loss"]) and r["memory_mb"] > 0
    assert [r["step"] for r in records if "eval_loss" in r] == [3, 6]
    html = (out / "loss.html").read_text(encoding="utf-8")
    assert "finished" in html and "refresh" not in html
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["steps"] == 6 and summary["tokens"] == result.tokens > 0


def test_a_run_folder_trains_on_its_train_output_and_scores_its_validation(
    llama_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"inputs:\n  - path: {chat_file}\nsteps:\n"
        "  - split: {ratios: {train: 0.75, validation: 0.25}, seed: 1}\n"
        "outputs:\n  train: {format: openai, path: train.jsonl}\n"
        "  validation: {format: openai, path: validation.jsonl}\n",
        encoding="utf-8",
    )
    assert main(["-q", "run", str(recipe), "-o", str(tmp_path / "data")]) == 0
    n_val = len((tmp_path / "data" / "validation.jsonl").read_text(encoding="utf-8").splitlines())
    assert 0 < n_val < 12
    result = run_training(_config(llama_dir, tmp_path / "data", tmp_path / "run", max_steps=2))
    summary = orjson.loads((tmp_path / "run" / "summary.json").read_bytes())
    assert (summary["data_source"], summary["train_rows"], summary["val_rows"]) == (
        "run",
        12 - n_val,
        n_val,
    )
    assert result.eval_loss is not None


def test_packing_is_refused_where_tokens_mix_outside_attention() -> None:
    from transformers import LlamaConfig, Qwen2Config

    assert packing_refusal(LlamaConfig()) is None
    mixed = ["full_attention", "sliding_attention"]
    assert packing_refusal(Qwen2Config(num_hidden_layers=2, layer_types=mixed)) is None
    hybrid = SimpleNamespace(
        model_type="qwen3_next", layer_types=["linear_attention", "full_attention"]
    )
    why = packing_refusal(hybrid)
    assert why is not None and "linear_attention layers" in why and "qwen3_next" in why
    assert packing_refusal(SimpleNamespace(model_type="mamba")) is not None


def test_full_fine_tuning_saves_a_whole_model(
    qwen2_dir: Path, chat_file: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    out = tmp_path / "full"
    result = run_training(_config(qwen2_dir, chat_file, out, method="full", lr=1e-3, max_steps=3))
    assert result.weights == out / "model"
    tuned = AutoModelForCausalLM.from_pretrained(out / "model")
    base = AutoModelForCausalLM.from_pretrained(qwen2_dir)
    moved = [
        n for n, p in tuned.named_parameters() if not p.equal(dict(base.named_parameters())[n])
    ]
    assert "lm_head.weight" in moved and len(moved) > 10  # every weight trains, not an adapter
    assert (out / "model" / "tokenizer_config.json").is_file()
