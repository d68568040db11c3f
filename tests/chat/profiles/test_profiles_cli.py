from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sftforge.chat.profiles import get_profile
from sftforge.cli.main import main
from sftforge.sample import Message, Sample

SAMPLES = [
    Sample([Message("user", "你好"), Message("assistant", "Hello")]),
    Sample([Message("user", "a"), Message("assistant", "b"), Message("user", "c")]),  # LF drops it
]


def test_tokenize_with_llamafactory_profile(
    tmp_path: Path, tok: Any, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(s.to_json().decode() + "\n" for s in SAMPLES), encoding="utf-8")
    out = tmp_path / "train.parquet"
    args = [
        "tokenize",
        str(src),
        str(out),
        "--tokenizer",
        str(tok_dir),
        "--profile",
        "llamafactory",
        "--template",
        "qwen",
    ]
    assert main(args) == 0
    table = pq.read_table(out).to_pylist()
    expected = get_profile("llamafactory", tok, template="qwen").encode(SAMPLES[0])
    assert [(r["input_ids"], r["labels"]) for r in table] == [(expected.input_ids, expected.labels)]
    rejects = [json.loads(x) for x in (tmp_path / "train.rejects.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rejects] == [SAMPLES[1].id] and rejects[0][
        "op"
    ] == "profile:llamafactory"
    assert "2 samples: 1 written" in capsys.readouterr().out


def test_a_profile_that_refuses_every_sample_exits_1(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 16: a tokenize in which nothing is kept exits non-zero and names the fix, also
    when the records were read and the trainer profile refused them all."""
    src = tmp_path / "in.jsonl"
    src.write_text(SAMPLES[1].to_json().decode() + "\n", encoding="utf-8")  # LF drops it
    out = tmp_path / "train.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(tok_dir)]
    assert main([*args, "--profile", "llamafactory", "--template", "qwen"]) == 1
    [error] = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert f"none of the 1 records of {src} could be used (profile:llamafactory 1)" in error
    assert "Fix: the trainer profile refused every sample" in error
    assert not out.exists()
    rejects = [json.loads(x) for x in (tmp_path / "train.rejects.jsonl").read_text().splitlines()]
    assert [r["op"] for r in rejects] == ["profile:llamafactory"]
