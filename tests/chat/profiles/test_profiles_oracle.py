"""Token-for-token against the frameworks themselves, in their own venvs (slow; skipped without).

LLaMA-Factory: $SFTFORGE_LF_VENV (or /work/benchenv/llamafactory). TRL: $SFTFORGE_TRL_VENV (or
/work/benchenv/trl). Run with: pytest -m slow tests/chat/profiles/test_profiles_oracle.py
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.chat.profiles.trl import to_trl_record
from sftforge.export.llamafactory import write_llamafactory_data
from sftforge.sample import Message, Sample, ToolCall

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _venv_python(env: str, default: str) -> Path:
    python = Path(os.environ.get(env, default)) / "bin" / "python"
    if not python.exists():
        pytest.skip(f"peer venv missing: set {env}")
    return python


SAMPLES = [
    Sample([Message("user", "Hello world"), Message("assistant", "I am fine.")]),
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "今天天气"),
            Message("assistant", "很好"),
            Message("user", "答案?"),
            Message("assistant", "四"),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", '{"t": 3}'),
            Message("assistant", "3 度"),
        ],
        tools=[
            {
                "name": "weather",
                "description": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    ),
]


LF_CASES = [(t, c) for t in ("qwen", "default", "llama3", "qwen3", None) for c in (2048, 12)]


@pytest.mark.slow
def test_llamafactory_profile_equals_llamafactory(tmp_path: Path, tok: Any, tok_dir: Path) -> None:
    python = _venv_python("SFTFORGE_LF_VENV", "/work/benchenv/llamafactory")
    write_llamafactory_data(SAMPLES, tmp_path, name="t")
    jobs = [
        {"tokenizer": str(tok_dir), "dataset_dir": str(tmp_path), "dataset": "t", "template": t,
         "cutoff_len": c, "options": {}, "out": str(tmp_path / f"peer{n}.jsonl")}
        for n, (t, c) in enumerate(LF_CASES)
    ]  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(python), str(BENCH / "_peer_llamafactory.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )
    for job, (template, cutoff) in zip(jobs, LF_CASES, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        ours = get_profile("llamafactory", tok, template=template, max_length=cutoff).encode_batch(
            SAMPLES
        )
        got = [(o.input_ids, o.labels) for o in ours if isinstance(o, Encoded)]
        assert got == [(t["input_ids"], t["labels"]) for t in theirs], (template, cutoff)


@pytest.mark.slow
def test_trl_profile_equals_sft_trainer(
    tmp_path: Path, tok: Any, tok_dir: Path, chatml_gen: str
) -> None:
    python = _venv_python("SFTFORGE_TRL_VENV", "/work/benchenv/trl")
    samples = SAMPLES[:2]
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps(to_trl_record(s), ensure_ascii=False) + "\n" for s in samples)
    )
    variants = [(True, 1024), (False, 1024), (True, 9)]
    jobs = [
        {"tokenizer": str(tok_dir), "chat_template": chatml_gen, "data": str(data), "max_length": m,
         "truncation_mode": "keep_start", "assistant_only_loss": a, "completion_only_loss": None,
         "out": str(tmp_path / f"peer{n}.jsonl")}
        for n, (a, m) in enumerate(variants)
    ]  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(python), str(BENCH / "_peer_trl.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )
    for job, (assistant_only, max_len) in zip(jobs, variants, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        prof = get_profile(
            "trl",
            tok,
            assistant_only_loss=assistant_only,
            max_length=max_len,
            chat_template=chatml_gen,
        )
        got = [
            (o.input_ids, o.labels) for o in prof.encode_batch(samples) if isinstance(o, Encoded)
        ]
        assert got == [(t["input_ids"], t["labels"]) for t in theirs], (assistant_only, max_len)


@pytest.mark.slow
def test_llamafactory_reads_the_exported_yaml_and_dataset_info(
    tmp_path: Path, tok_dir: Path
) -> None:
    from sftforge.export import export_samples

    python = _venv_python("SFTFORGE_LF_VENV", "/work/benchenv/llamafactory")
    export_samples(SAMPLES, "llamafactory", tmp_path, model=str(tok_dir), template="qwen")
    proc = subprocess.run(
        [str(python), str(BENCH / "_peer_lf_config.py"), str(tmp_path / "train_lora_sft.yaml")],
        cwd=tmp_path,  # the config's paths are relative to the export folder
        check=True,
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == f"rows {len(SAMPLES)}"
