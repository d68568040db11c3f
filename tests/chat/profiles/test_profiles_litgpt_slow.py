"""LitGPT itself on an export: its rows equal the profile's, and one training step runs on CPU.

Needs LitGPT 0.5 in its own environment: ``SFTFORGE_LITGPT_VENV`` or ROOT/.bench-venvs/litgpt
(skipped with the reason when absent). The model is a tiny random Llama built here with the tiny
test tokenizer; the export folder is moved before LitGPT loads it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.chat.profiles.litgpt_styles import STYLES, apply_style
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.litgpt import profile_settings
from sftforge.sample import Message, Sample

ROOT = Path(__file__).resolve().parents[3]
VENV = Path(os.environ.get("SFTFORGE_LITGPT_VENV") or ROOT / ".bench-venvs" / "litgpt")
PYTHON = VENV / "bin" / "python"
PEER = ROOT / "src" / "sftforge" / "export" / "peers" / "litgpt.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PYTHON.exists(), reason=f"no LitGPT environment at {VENV}"),
]

SAMPLES = [
    Sample([Message("user", f"问题 {i}"), Message("assistant", f"答案 {i}")]) for i in range(3)
] + [
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "Hello world"),
            Message("assistant", "Hello, how are you?"),
            Message("user", "The answer is?"),
            Message("assistant", "The answer is 4."),
        ]
    )
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, make_tokenizer: Any) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("models") / "tiny-llama"
    tok = make_tokenizer()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
        eos_token_id=tok.eos_token_id, tie_word_embeddings=False,
    )  # fmt: skip
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_litgpt_builds_the_profile_rows_and_trains_one_step(
    tiny_model: Path, tmp_path: Path
) -> None:
    made = tmp_path / "made"
    export_samples(SAMPLES, "litgpt", made, model=str(tiny_model), max_length=64)
    moved = tmp_path / "elsewhere" / "export"
    moved.parent.mkdir()
    shutil.move(str(made), str(moved))
    rows_file = tmp_path / "rows.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(PYTHON), str(PEER), str(moved), str(rows_file), "--step"],
        cwd=moved, capture_output=True, text=True, env=env, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["trainer"].startswith("litgpt 0.5")
    assert info["step"]["ok"] is True and info["step"]["loss"] > 0, info["step"]
    theirs = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines()]
    job = ExportJob(moved, SAMPLES, tokenizer=str(tiny_model), max_length=64)
    s = profile_settings(job)
    prof = get_profile(
        "litgpt", load_tokenizer(str(tiny_model)), template=s.template, max_length=64, **s.options
    )
    mine = [
        {"input_ids": r.input_ids, "labels": r.labels}
        for r in prof.encode_batch(SAMPLES)
        if isinstance(r, Encoded)
    ]
    assert len(mine) == info["rows"] == 5  # three answers, and two of the conversation
    assert mine == theirs


def test_every_prompt_style_is_litgpts() -> None:
    records = [
        {"instruction": "问 {x}", "input": "", "output": "a"},
        {"instruction": "Translate", "input": "bonjour", "output": "a"},
        {"instruction": "q", "input": "", "output": "a", "sys_prompt": "你是助手"},
    ]
    code = (
        "import json, sys\n"
        "from litgpt.prompts import PromptStyle, prompt_styles\n"
        "records = json.loads(sys.argv[1])\n"
        "out = {n: [PromptStyle.from_name(n).apply(prompt=r['instruction'], **r) for r in records]"
        " for n in prompt_styles}\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(PYTHON), "-c", code, json.dumps(records)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout)
    assert sorted(theirs) == sorted(STYLES)
    mine = {n: [apply_style(n, r) for r in records] for n in STYLES}
    assert mine == theirs
