"""The Python examples in docs/io.md run (on the built-in Alpaca example)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sftforge.cli.demo import example_path

DOC = Path(__file__).parent.parent.parent / "docs" / "io.md"


def test_docs_io_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    shutil.copy(example_path("alpaca_zh_en.json"), tmp_path / "alpaca_data.json")
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    assert (tmp_path / "out" / "sharegpt.jsonl.gz").exists()
