"""The TRL peer check on a real TRL (slow; needs TRL's environment: SFTFORGE_TRL_VENV, default
ROOT/.bench-venvs/trl): an export made with a tiny random Llama built here, moved, is loaded
unedited by ``train_trl.py`` and by ``train_trl.sh``, trained one step on CPU, and TRL's rows
equal the profile's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from tiny_chatml import build_tokenizer

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.export import export_samples
from sftforge.export.check import compare_rows
from sftforge.sample import Message, Sample, ToolCall

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "src" / "sftforge" / "export" / "peers" / "trl.py"
VENV = Path(os.environ.get("SFTFORGE_TRL_VENV") or ROOT / ".bench-venvs" / "trl")
TOOLS = [{"type": "function", "function": {"name": "weather", "description": "天气", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
SAMPLES = [
    Sample([Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]),
    Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "2+2?"),
            Message("assistant", "4"),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ],
        tools=TOOLS,
    ),
]
# ChatML with tools (tojson: key order as written) and tool calls
TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)  # fmt: skip


def tiny_model(path: Path) -> Path:
    pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer()
    tok.chat_template = TEMPLATE
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def run_peer(folder: Path, out: Path, *extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(VENV / "bin" / "python"), str(PEER), str(folder), str(out), *extra],
        cwd=folder, capture_output=True, text=True, env=env, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def test_trl_loads_the_moved_export_unedited_and_agrees(tmp_path: Path) -> None:
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"no TRL environment at {VENV} (SFTFORGE_TRL_VENV)")
    model = tiny_model(tmp_path / "model")
    export_samples(SAMPLES, "trl", tmp_path / "export", model=str(model), max_length=256)
    moved = tmp_path / "elsewhere" / "export"
    moved.parent.mkdir()
    shutil.move(tmp_path / "export", moved)  # relative paths: it must work where it lands
    prof = get_profile("trl", load_tokenizer(str(model)), max_length=256)  # no options: the same
    mine = [(r.input_ids, r.labels) for r in prof.encode_batch(SAMPLES) if isinstance(r, Encoded)]
    for entry, extra in (("py", ("--step",)), ("sh", ("--entry", "sh"))):
        out = tmp_path / f"{entry}.jsonl"
        info = run_peer(moved, out, *extra)
        lines = out.read_text(encoding="utf-8").splitlines()
        theirs = [(r["input_ids"], r["labels"]) for r in map(json.loads, lines)]
        c = compare_rows(mine, theirs)
        assert c.identical == c.profile_rows == c.trainer_rows == 3, (entry, c)
        assert info["rows"] == 3 and info["trainer"].startswith("trl ")
        if entry == "py":
            assert info["step"]["ok"] is True and info["step"]["loss"] > 0, info
