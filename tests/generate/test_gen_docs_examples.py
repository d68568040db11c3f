"""The command lines in docs/generate.md run (against the fake server, in a scratch folder)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from fakeserver import FakeServer

from sftforge.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "generate.md"


def _commands() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", text, re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.startswith("sftforge generate")]


def _point_at(argv: list[str], server: FakeServer) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--base-url", "--model", "--device", "--provider"):
            skip = True
            continue
        out.append(a)
    return [*out[1:], "--base-url", server.base_url, "--model", "fake", "--no-progress"]


def test_docs_examples_run(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-docs-example")
    answered = [
        {"instruction": "Name a river", "output": "Nile"},
        {"instruction": "q", "output": "BAD"},  # (one layout per file: the one reader's rule)
    ]
    Path("data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in answered), encoding="utf-8")
    for name in ("questions.jsonl", "prompts.jsonl"):
        Path(name).write_text(json.dumps({"instruction": "Name a river"}) + "\n", encoding="utf-8")
    Path("seed_tasks.jsonl").write_text(
        json.dumps({"instruction": "Give three tips for staying healthy."}) + "\n", encoding="utf-8"
    )
    Path("manuals").mkdir()
    Path("manuals/a.md").write_text("# Install\n\nRun the installer.", encoding="utf-8")
    Path("prices.yaml").write_text("fake: {input: 1, output: 2}\n", encoding="utf-8")
    cmds = _commands()
    assert len(cmds) == 7
    for argv in cmds:
        args = _point_at(argv, server)
        if "self_instruct" in args:
            args += ["--set", "num_instructions=2", "--set", "per_request=5"]
        assert main(args) == 0, argv
    fixed = [
        json.loads(line) for line in Path("fixed.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert fixed[1]["meta"]["previous_answer"] == "BAD"  # judged low, rewritten
    assert not Path("qa.jsonl").exists()  # the doc_qa example is a dry run
