"""Every command in the README's tour, and its Python example, runs as written."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from sftforge.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(after: str, lang: str) -> str:
    start = README.index(after)
    match = re.search(rf"```{lang}\n(.*?)```", README[start:], re.S)
    assert match, f"no ```{lang} block after {after!r}"
    return match.group(1)


TOUR = [line for line in _block("## A tour", "bash").splitlines() if line.startswith("sftforge ")]


@pytest.fixture
def in_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_tour_lists_the_main_commands() -> None:
    used = {shlex.split(line)[1] for line in TOUR}
    assert {"inspect", "convert", "run", "lint", "tokenize", "export"} <= used


def test_every_tour_command_succeeds(in_copy: Path) -> None:
    for line in TOUR:
        rc = main(shlex.split(line)[1:])
        assert rc == 0, line
    assert (in_copy / "runs/tour/quickstart/report.html").is_file()
    assert (in_copy / "runs/tour/train.parquet").is_file()


def test_python_example_runs(in_copy: Path) -> None:
    (in_copy / "runs/tour").mkdir(parents=True)
    exec(compile(_block("The same from Python", "python"), "README.md", "exec"), {})
    assert (in_copy / "runs/tour/chats.alpaca.json").is_file()
