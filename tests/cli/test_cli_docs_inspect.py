"""The ``sftforge inspect`` examples in docs/cli.md are what the command prints (run from the
repository root); a block with a ``...`` line shows only the end of the output."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sftforge.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
FENCED = re.findall(r"^```[a-z]*\n(.*?)^```$", DOC, re.S | re.M)
BLOCKS = [b for b in FENCED if b.startswith("$ sftforge inspect")]


def test_the_page_has_inspect_examples() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0])
def test_inspect_example_is_the_real_output(
    block: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command, *shown = block.rstrip("\n").splitlines()
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(command)[2:]) == 0
    out = capsys.readouterr().out.rstrip("\n").splitlines()
    if "..." in shown:
        tail = shown[shown.index("...") + 1 :]
        assert out[-len(tail) :] == tail
    else:
        assert out == shown
