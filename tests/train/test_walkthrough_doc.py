"""docs/walkthrough.md runs as written: data -> train (plan, run) -> merge -> chat -> eval, with a tiny random model at the page's model path and the fake OpenAI-compatible
server as the judge. Two substitutions, both named here: the judge URL becomes the fake server's,
and ``--max-new-tokens 256`` becomes 8 (a random model's answers are noise; 8 tokens keep it quick).
"""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from sftforge.cli.main import main
from tiny_models import build_tiny_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "llm"))
from fakeserver import FakeServer, Reply

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(bash)\n(.*?)```", DOC, re.S)
MODEL = "models/Qwen2.5-1.5B-Instruct"


def test_the_page_walks_the_whole_path() -> None:
    commands = [shlex.split(code)[1] for kind, code in BLOCKS if kind == "bash"]
    assert commands == ["run", "train", "train", "merge", "chat", "eval"]
    assert "--dry-run" in BLOCKS[1][1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "examples" / "quickstart")
    build_tiny_model(tmp_path / MODEL, "qwen2")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_walkthrough_runs_as_written(workdir: Path, monkeypatch, capsys) -> None:
    judge = FakeServer().start()
    judge.default = lambda body: Reply(content=json.dumps({"winner": "A"}))  # A always: ties
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")
    try:
        for _, code in BLOCKS:
            argv = shlex.split(code)[1:]
            if argv[0] == "chat":  # typed input: one message, then /exit
                with monkeypatch.context() as typed:
                    typed.setattr(sys, "stdin", io.StringIO("你好\n/exit\n"))
                    assert main(argv) == 0, argv
                continue
            if argv[0] == "eval":
                argv[argv.index("https://api.deepseek.com/v1")] = judge.base_url
                argv[argv.index("--max-new-tokens") + 1] = "8"
                argv += ["--judge-cache", str(workdir / "cache.sqlite")]
            assert main(argv) == 0, argv
    finally:
        judge.stop()
    out = capsys.readouterr().out
    assert "(tuned)" in out and "(base)" in out  # chat --compare printed both columns
    assert "memory (estimate)" in out  # the plan was printed
    log = (workdir / "runs/train/train_log.jsonl").read_text("utf-8").splitlines()
    assert log and (workdir / "runs/train/loss.png").is_file()
    assert (workdir / "runs/merged/model.safetensors").is_file()
    rows = (workdir / "runs/eval/eval.jsonl").read_text("utf-8").splitlines()
    test_split = (workdir / "runs/quickstart/test.jsonl").read_text("utf-8").splitlines()
    assert len(rows) == len(test_split) == 6
    summary = json.loads((workdir / "runs/eval/summary.json").read_text("utf-8"))
    assert summary["questions"] == 6 and summary["judge_failed"] == 0
    assert summary["base_perplexity"] > 1 and summary["tuned_perplexity"] > 1
    # a judge that always says "A" flips with the order: every pair it judged is a tie
    judged = [json.loads(r) for r in rows]
    judged = [r for r in judged if r["tuned_answer"] and r["base_answer"]]
    judged = [r for r in judged if r["tuned_answer"] != r["base_answer"]]
    assert judged and all(r["verdict"] == "tie" and r["judge"]["verdicts"] for r in judged)
    assert len(judge.log) == 2 * len(judged)  # both orders, one pair per question
