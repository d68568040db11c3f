"""Generators as recipe steps, run by the pipeline against the fake server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from fakeserver import FakeServer, Reply

from sftforge.pipeline import run_recipe
from sftforge.sample import Message, Sample


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))


def _recipe(tmp_path: Path, server: FakeServer, steps: list[object]) -> Path:
    rows = [
        Sample([Message("user", "q1"), Message("assistant", "fine answer")]),
        Sample([Message("user", "q2"), Message("assistant", "BAD answer")]),
        Sample([Message("user", "doomed"), Message("assistant", "x")]),
    ]
    (tmp_path / "in.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in rows))
    llm = {
        "base_url": server.base_url,
        "model": "fake",
        "cache": str(tmp_path / "llm.sqlite"),
        "max_retries": 0,
    }
    recipe = {
        "inputs": [{"path": "in.jsonl", "name": "raw"}],
        "steps": [{name: {**opts, "llm": llm}} for step in steps for name, opts in step.items()],  # type: ignore[attr-defined]
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def test_judge_then_respond_in_a_recipe(server: FakeServer, tmp_path: Path) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    steps = [{"judge": {"scale": 10}}, {"respond": {"mode": "low_score", "threshold": 5}}]
    res = run_recipe(_recipe(tmp_path, server, steps), tmp_path / "out", workers=1)
    rows = [
        orjson.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_bytes().splitlines()
    ]
    assert [r["messages"][-1]["content"] for r in rows] == ["fine answer", "ANSWER: q2"]
    assert rows[0]["meta"]["stats"]["judge_overall"] == 8
    rejects = [
        orjson.loads(line)
        for line in (tmp_path / "out" / "rejects.jsonl").read_bytes().splitlines()
    ]
    assert [(r["op"], r["reason"][:19]) for r in rejects] == [("judge", "llm failed: HTTP 40")]
    assert res.counts["read"] == 3


def test_deriving_steps_in_a_recipe(server: FakeServer, tmp_path: Path) -> None:
    steps = [{"paraphrase": {"max_rouge": 0.95}}]
    res = run_recipe(_recipe(tmp_path, server, steps), tmp_path / "out", workers=1)
    assert (
        res.counts["read"] == 3
    )  # the pipeline's invariant held: inputs + generated = out + rejects
    rows = [
        orjson.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_bytes().splitlines()
    ]
    users = [r["messages"][0]["content"] for r in rows]
    assert users == [
        "q1",
        "q2",
        "doomed",
        "q1 please, kindly",
        "q2 please, kindly",
        "doomed please, kindly",
    ]


def test_judge_pair_in_a_recipe_accounts_for_every_input(
    server: FakeServer, tmp_path: Path
) -> None:
    rows = [
        Sample([Message("user", "which?"), Message("assistant", "meh")]),
        Sample([Message("user", "which?"), Message("assistant", "GOOD one")]),
        Sample([Message("user", "alone"), Message("assistant", "only")]),
    ]
    path = _recipe(tmp_path, server, [{"judge_pair": {}}])
    (tmp_path / "in.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in rows))
    run_recipe(path, tmp_path / "out", workers=1)
    [pair] = [
        orjson.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_bytes().splitlines()
    ]
    assert (pair["messages"][-1]["content"], pair["rejected"]["content"]) == ("GOOD one", "meh")
    rejects = [
        orjson.loads(line)
        for line in (tmp_path / "out" / "rejects.jsonl").read_bytes().splitlines()
    ]
    assert sorted(r["reason"] for r in rejects) == [
        "fewer than two distinct answers to compare",
        "merged into a preference pair",
    ]


def test_llm_step_in_a_recipe_reports_progress_under_its_stage(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sftforge run` without a terminal: the LLM step prints its items line with its calls and
    tokens, then its stage's line (a bar each on a terminal: tests/cli/test_cli_progress.py)."""
    import re

    from sftforge.cli.main import main

    recipe = _recipe(tmp_path, server, [{"judge": {"scale": 10}}])
    assert main(["run", str(recipe), "-o", str(tmp_path / "out"), "-w", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    # with the step's calls and tokens (the fake server counts 15 a call)
    assert re.fullmatch(
        r"judge: 3 items in \d+\.\d s \([\d.,]+ items/s\), 3 calls, 45 tokens", err[1]
    ), err
    assert err[2].startswith("stage 2/2 (judge): 1 chunks, 3 records, ")
    assert main(["run", str(recipe), "-o", str(tmp_path / "q"), "-w", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def _alpaca_prompts(tmp_path: Path, server: FakeServer, steps: list[dict[str, object]]) -> Path:
    """Alpaca rows, two of them prompts with an empty output, as a recipe's input."""
    rows = [
        {"instruction": "什么是数据集?", "input": "", "output": ""},
        {"instruction": "q2", "input": "", "output": "an answer"},
        {"instruction": "q3", "input": "ctx", "output": ""},
    ]
    (tmp_path / "in.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    llm = {"base_url": server.base_url, "model": "fake", "cache": str(tmp_path / "llm.sqlite")}
    recipe = {
        "inputs": [{"path": "in.jsonl", "name": "raw"}],
        "steps": [{n: {**o, "llm": llm} if n == "respond" else o}
                  for s in steps for n, o in s.items()],
        "outputs": {"train": {"format": "alpaca", "path": "train.jsonl"}},
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_respond_step_answers_alpaca_prompts_with_empty_outputs(
    server: FakeServer, tmp_path: Path
) -> None:
    """With a step that answers them, prompts without an answer are read (answers optional)."""
    recipe = _alpaca_prompts(tmp_path, server, [{"respond": {"mode": "missing"}}])
    res = run_recipe(recipe, tmp_path / "out", workers=1)
    rows = _lines(tmp_path / "out" / "train.jsonl")
    assert [r["output"] for r in rows] == ["ANSWER: 什么是数据集?", "an answer", "ANSWER: q3\nctx"]
    assert res.counts["read"] == 3 and not _lines(tmp_path / "out" / "rejects.jsonl")


def test_without_a_respond_step_prompts_are_rejected_not_written(
    server: FakeServer, tmp_path: Path
) -> None:
    """No step answers them: each record with no answer is rejected by read (its line, the
    format's field), never written as a training row without an answer."""
    recipe = _alpaca_prompts(tmp_path, server, [{"clean": {}}])
    res = run_recipe(recipe, tmp_path / "out", workers=1)
    assert [r["output"] for r in _lines(tmp_path / "out" / "train.jsonl")] == ["an answer"]
    rejects = _lines(tmp_path / "out" / "rejects.jsonl")
    assert [(r["op"], r["value"]["line"]) for r in rejects] == [("read", 1), ("read", 3)]  # type: ignore[index]
    assert all("'output' is empty" in str(r["reason"]) for r in rejects)
    assert res.counts["read"] == 3
