"""XTuner 0.2 itself on an export (slow; skipped without its venv): the peer script builds the
train rows with XTuner's own dataset code from the moved export folder, and they must equal the
``xtuner`` profile's rows with the export's :func:`profile_settings`.

The venv: $SFTFORGE_XTUNER_VENV, else .bench-venvs/xtuner (bench/_venvs.py builds it). Run with:
pytest -m slow tests/chat/profiles/test_profiles_xtuner_peer.py
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.xtuner import profile_settings
from sftforge.sample import Message, Sample, ToolCall

ROOT = Path(__file__).resolve().parents[3]
PEER = ROOT / "src" / "sftforge" / "export" / "peers" / "xtuner.py"

SAMPLES = [
    Sample([Message("user", "Hello world"), Message("assistant", "I am fine.")]),
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "今天天气"),
            Message("assistant", "很好", train=False),
            Message("user", "答案?"),
            Message("assistant", "四", reasoning="二加二"),
            Message("user", "dangling question"),
        ]
    ),
    Sample(  # a tool list and no call: XTuner never reads tools, both refuse it
        [Message("user", "讲个笑话"), Message("assistant", "抱歉")],
        tools=[{"name": "weather", "parameters": {"type": "object", "properties": {}}}],
    ),
    Sample(
        [
            Message("user", "weather?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ]
    ),
    # cut at max_length: the long prompt leaves no trained token, both drop the row
    Sample([Message("user", "天气 " * 80), Message("assistant", "晴")]),
    Sample([Message("user", "短"), Message("assistant", "答案是四。" * 20)]),  # cut, still trained
]


def _venv_python() -> Path:
    venv = os.environ.get("SFTFORGE_XTUNER_VENV", str(ROOT / ".bench-venvs" / "xtuner"))
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        pytest.skip("XTuner venv missing: set SFTFORGE_XTUNER_VENV (bench/_venvs.py builds one)")
    return python


def _tiny_model(tok: Any, folder: Path) -> Path:
    """A tiny random Llama with ``tok``, saved so that XTuner's transformers 4.48 reads it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    # transformers 5 writes a tokenizer class and a special-token list that 4.48 cannot read
    path = folder / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    if isinstance(cfg.get("extra_special_tokens"), list):
        cfg["additional_special_tokens"] = cfg.pop("extra_special_tokens")
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_xtuner_builds_the_rows_the_profile_encodes(tok: Any, tmp_path: Path) -> None:
    python = _venv_python()
    model = _tiny_model(tok, tmp_path / "model")
    made = tmp_path / "made" / "export"
    options = {"max_length": 48}
    export_samples(SAMPLES, "xtuner", made, model=str(model), options=options)
    folder = tmp_path / "elsewhere" / "export"
    folder.parent.mkdir()
    shutil.move(made, folder)  # the folder travels: nothing may point back
    out = tmp_path / "rows.jsonl"
    run = subprocess.run(
        [str(python), str(PEER), str(folder), str(out), "--step"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["trainer"].startswith("xtuner 0.2")
    trainer_rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]

    job = ExportJob(outdir=folder, train=SAMPLES, model=str(model), options=options)
    job.tokenizer = str(model)
    s = profile_settings(job)
    prof = get_profile("xtuner", tok, template=s.template, max_length=s.max_length, **s.options)
    ours = [r for r in prof.encode_batch(SAMPLES) if isinstance(r, Encoded)]
    assert len(ours) == 3  # the tool samples and the row cut to no trained token are refused
    assert summary["rows"] == len(trainer_rows) == len(ours)
    assert [r["input_ids"] for r in trainer_rows] == [r.input_ids for r in ours]
    assert [r["labels"] for r in trainer_rows] == [r.labels for r in ours]
    # one step on CPU: XTuner 0.2.0 stops building its model without CUDA; said, never faked
    step = summary["step"]
    assert step is not None
    if step["ok"]:
        assert math.isfinite(step["loss"])
    else:
        assert "without CUDA" in step["error"] and "is_bf16_supported" in step["error"]
