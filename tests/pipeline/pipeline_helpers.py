"""Plain helpers shared by the pipeline tests (a module with a unique name, so test files import
it without depending on which ``conftest`` pytest put on ``sys.path`` first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from sftforge.sample import Message, Sample

__all__ = ["make_samples", "read_rows"]


def make_samples(n: int) -> list[Sample]:
    out = []
    for i in range(n):
        answer = "" if i % 7 == 3 else f"  answer {i % 11} 回答 "
        out.append(Sample([Message("user", f" question {i} 问题 "), Message("assistant", answer)]))
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
