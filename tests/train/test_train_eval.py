"""eval end to end on the tiny model: losses (checked against transformers' own loss), both
answers, the judge through the fake OpenAI-compatible server, the reports; questions files."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from sftforge.cli.main import main
from sftforge.train.evaluate import evaluate, read_questions, score_losses
from sftforge.train.load import load_model
from tiny_adapter import build_tiny_adapter
from tiny_models import build_tiny_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "llm"))
from fakeserver import FakeServer, Reply

QA = [
    ("What is 2+2?", "The answer is 4."),
    ("你好，今天天气怎么样？", "你好，今天天气很好。"),
    ("Say <b>hello</b> FAILME", "Hello world."),
]


def _sharegpt(path: Path) -> Path:
    rows = [
        {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
        for q, a in QA
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("eval")
    base = build_tiny_model(root / "base", "llama")
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    texts = tuple(
        tok.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}], tokenize=False
        )
        for q, a in QA
    )
    return base, build_tiny_adapter(base, root / "adapter", texts=texts, steps=30)


def _longer_wins(body: dict[str, Any]) -> Reply:
    """The fake judge prefers the longer answer, whatever the order: a verdict a test can predict."""
    text = body["messages"][-1]["content"]
    a = re.search(r"\[(?:Answer|回答) A\]\n(.*?)\n\[(?:End of answer A|回答 A 结束)\]", text, re.S)
    b = re.search(r"\[(?:Answer|回答) B\]\n(.*?)\n\[(?:End of answer B|回答 B 结束)\]", text, re.S)
    assert a and b
    la, lb = len(a.group(1)), len(b.group(1))
    winner = "A" if la > lb else "B" if lb > la else "tie"
    return Reply(content=json.dumps({"winner": winner, "rationale": "longer"}))


@pytest.fixture
def judge() -> Any:
    server = FakeServer().start()
    server.default = _longer_wins
    server.add("FAILME", Reply(status=400, content="bad request"))
    yield server
    server.stop()


def test_cli_eval_end_to_end(folders, judge, tmp_path: Path, capsys) -> None:
    _, adapter = folders
    data, out = _sharegpt(tmp_path / "test.jsonl"), tmp_path / "report"
    rc = main([
        "eval", str(adapter), str(data), "--out", str(out), "--max-new-tokens", "10",
        "--judge-model", "judge-1", "--judge-base-url", judge.base_url,
        "--judge-cache", str(tmp_path / "cache.sqlite"),
    ])  # fmt: skip
    assert rc == 2  # one judge call failed: said by the exit code and in its row
    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text("utf-8").splitlines()]
    assert [r["prompt"][-1]["content"] for r in rows] == [q for q, _ in QA]
    assert [r["reference"] for r in rows] == [a for _, a in QA]
    for r in rows:  # the adapter was trained on these answers: its loss is lower on each
        assert r["tuned_loss"] < r["base_loss"] and r["tokens"] > 0
        assert r["base_answer"] is not None and r["tuned_answer"] is not None
    for r in rows[:2]:
        t, b = len(r["tuned_answer"]), len(r["base_answer"])
        assert r["verdict"] == ("tuned" if t > b else "base" if b > t else "tie")
        called = bool(r["tuned_answer"]) and bool(r["base_answer"]) and t != b
        assert (len(r["judge"].get("verdicts") or []) == 1) == called
    assert rows[2]["verdict"] is None and "400" in rows[2]["judge"]["error"]
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    n = sum(r["tokens"] for r in rows)
    mean = sum(r["tuned_loss"] * r["tokens"] for r in rows) / n
    assert summary["tuned_perplexity"] == pytest.approx(math.exp(mean))
    wins = sum(r["verdict"] == "tuned" for r in rows)
    ties = sum(r["verdict"] == "tie" for r in rows)
    assert summary["win_rate"] == pytest.approx((wins + ties / 2) / 2)
    assert summary["judge_failed"] == 1
    html = (out / "eval.html").read_text("utf-8")
    assert "你好，今天天气怎么样？" in html and "&lt;b&gt;hello&lt;/b&gt;" in html
    assert "<b>hello" not in html
    md = (out / "eval.md").read_text("utf-8")
    assert md.count("\n| ") == 1 + len(QA) and "你好，今天天气很好。" in md
    assert "Say &lt;b&gt;hello&lt;/b&gt; FAILME" in md
    assert "judge failed: " in md.splitlines()[-1]  # the FAILME row, last
    called = [r for r in rows[:2] if r["judge"].get("verdicts")]
    assert all(r["judge"]["verdicts"][0]["rationales"] == ["longer", "longer"] for r in called)
    assert md.count("| longer |") == len(called)
    assert "win rate" in capsys.readouterr().out


def test_loss_is_transformers_causal_lm_loss_on_the_tokenize_labels(folders) -> None:
    from sftforge.chat.tokenize import tokenize_samples

    base, _ = folders
    model = load_model(base)
    samples = read_questions(_sharegpt_path(base.parent))
    got = score_losses(model, samples)
    rows = tokenize_samples(samples, model.tokenizer, model.template).rows
    for row in rows:
        ids, labels = torch.tensor([row.input_ids]), torch.tensor([row.labels])
        with torch.no_grad():
            want = model.model(input_ids=ids, labels=labels).loss
        loss, n = got[row.id]
        assert loss == pytest.approx(float(want), rel=1e-5)
        assert n == sum(1 for x in row.labels[1:] if x != -100)


def _sharegpt_path(folder: Path) -> Path:
    return _sharegpt(folder / "qa.jsonl")


def test_questions_without_answers_get_answers_and_no_loss(folders, tmp_path: Path) -> None:
    base, adapter = folders
    questions = tmp_path / "questions.txt"
    questions.write_text("What is 2+2?\n你好吗？\n", "utf-8")
    samples = read_questions(questions)
    result = evaluate(load_model(adapter), load_model(base), samples)
    assert [r.question for r in result.rows] == ["What is 2+2?", "你好吗？"]
    assert all(r.loss_note == "no reference answer" and r.base_loss is None for r in result.rows)
    assert all(r.tuned_answer is not None and r.base_answer is not None for r in result.rows)
    assert result.summary["base_perplexity"] is None and "win_rate" not in result.summary


def test_a_run_folder_gives_its_test_split_and_a_wrong_folder_says_so(tmp_path: Path) -> None:
    from sftforge.errors import InputError

    _sharegpt(tmp_path / "test.jsonl")
    report = {"outputs": {"train": {"path": "train.jsonl"}, "test": {"path": "test.jsonl"}}}
    (tmp_path / "report.json").write_text(json.dumps(report), "utf-8")
    assert len(read_questions(tmp_path)) == len(QA)
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="not a run folder with a test split"):
        read_questions(tmp_path / "other")


def test_cli_eval_needs_a_base(folders, tmp_path: Path, capsys) -> None:
    base, _ = folders
    rc = main(
        ["eval", str(base), str(_sharegpt(tmp_path / "t.jsonl")), "--out", str(tmp_path / "o")]
    )
    assert rc == 1
    assert "no base model to compare" in capsys.readouterr().err


def test_the_adapters_base_without_a_second_load_scores_and_answers_as_the_base(
    folders, tmp_path: Path
) -> None:
    from sftforge.train.load import base_view

    base, adapter = folders
    samples = read_questions(_sharegpt(tmp_path / "qa.jsonl"))
    tuned = load_model(adapter)
    shared = evaluate(tuned, base_view(tuned), samples).rows
    loaded = evaluate(tuned, load_model(base), samples).rows
    assert [(r.base_loss, r.base_answer) for r in shared] == [
        (r.base_loss, r.base_answer) for r in loaded
    ]
    assert [r.tuned_answer for r in shared] == [r.tuned_answer for r in loaded]  # adapter back on
    assert all(r.base_loss != r.tuned_loss for r in shared)


def test_cli_eval_judge_needs_a_url(tmp_path: Path, capsys) -> None:
    data = _sharegpt(tmp_path / "t.jsonl")
    argv = ["eval", str(tmp_path), str(data), "--out", str(tmp_path / "o"), "--judge-model", "j"]
    assert main(argv) == 1
    assert "--judge-model needs --judge-base-url" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_eval_of_a_merged_folder_finds_its_base(folders, tmp_path: Path) -> None:
    from sftforge.train.merge import merge_adapter

    base, adapter = folders
    merged = merge_adapter(adapter, tmp_path / "merged").out
    questions = tmp_path / "q.txt"
    questions.write_text("What is 2+2?\n", "utf-8")
    out = tmp_path / "o"
    assert main(["eval", merged, str(questions), "--out", str(out), "--max-new-tokens", "4"]) == 0
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["base"] == str(base) and summary["tuned"] == merged


def test_cli_eval_judge_budget_stops_judging(folders, judge, tmp_path: Path) -> None:
    """``--judge-max-tokens-budget`` reaches the judge's LLM layer: a budget too small for one
    call sends nothing, every judged row names the budget, and the exit code says it."""
    _, adapter = folders
    data, out = _sharegpt(tmp_path / "test.jsonl"), tmp_path / "report"
    before = len(judge.log)
    rc = main([
        "eval", str(adapter), str(data), "--out", str(out), "--max-new-tokens", "10",
        "--judge-model", "judge-1", "--judge-base-url", judge.base_url,
        "--judge-cache", str(tmp_path / "cache.sqlite"), "--judge-max-tokens-budget", "1",
        "--judge-concurrency", "1",
    ])  # fmt: skip
    assert rc == 2
    assert len(judge.log) == before  # nothing was sent
    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text("utf-8").splitlines()]
    judged = [r for r in rows if r["judge"].get("error")]
    # a row with an empty answer is decided without the judge; every other row was stopped
    assert len(judged) == sum(1 for r in rows if "note" not in r["judge"]) >= 1
    for r in judged:
        assert "token budget of 1 reached" in r["judge"]["error"]
        assert "--judge-max-tokens-budget" in r["judge"]["error"]
        assert r["verdict"] is None
