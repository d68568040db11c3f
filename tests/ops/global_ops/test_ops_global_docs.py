from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).parents[3] / "docs" / "dedup-split-mix.md"


def test_docs_python_examples_run() -> None:
    blocks = DOC.read_text(encoding="utf-8").split("```python\n")[1:]
    assert blocks
    for block in blocks:
        exec(block.split("```")[0], {})
