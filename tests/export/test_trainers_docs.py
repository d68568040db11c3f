"""docs/trainers.md stays true: its lint table lists every check, its export example runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sftforge.chat.lint import CHECKS
from sftforge.cli.main import main
from sftforge.export import FRAMEWORKS
from sftforge.sample import Message, Sample

DOC = (Path(__file__).resolve().parents[2] / "docs" / "trainers.md").read_text(encoding="utf-8")


def test_lint_table_lists_every_check_with_its_level() -> None:
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", DOC, re.M))
    assert rows == CHECKS


def test_export_table_lists_every_framework() -> None:
    assert re.findall(r"^\| `([a-z]+)` \| ", DOC.split("## `sftforge export`")[1], re.M)[
        : len(FRAMEWORKS)
    ] == list(FRAMEWORKS)


def test_export_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    samples = [Sample([Message("user", f"q{i}"), Message("assistant", f"a{i}")]) for i in range(3)]
    Path("clean.jsonl").write_text(
        "".join(s.to_json().decode() + "\n" for s in samples), encoding="utf-8"
    )
    block = re.search(r"```\n\$ (sftforge export .*?)\n(.*?)```", DOC, re.S)
    assert block
    assert main(shlex.split(block.group(1))[1:]) == 0
    assert capsys.readouterr().out == block.group(2)
