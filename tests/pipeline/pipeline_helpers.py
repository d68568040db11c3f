"""Plain helpers shared by the pipeline tests (a module with a unique name, so test files import
it without depending on which ``conftest`` pytest put on ``sys.path`` first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from sftforge.sample import Message, Sample

__all__ = ["make_samples", "read_rows", "run_cli"]

HERE = Path(__file__).resolve().parent
_CLI = "import sys; from sftforge.cli.main import main; sys.exit(main())"


def make_samples(n: int) -> list[Sample]:
    out = []
    for i in range(n):
        answer = "" if i % 7 == 3 else f"  answer {i % 11} 回答 "
        out.append(Sample([Message("user", f" question {i} 问题 "), Message("assistant", answer)]))
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def run_cli(
    args: list[str], cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``sftforge ARGS`` in a fresh process (this checkout's src first), with the test kill hooks
    cleared unless ``env_extra`` sets them."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parents[1] / "src"), str(HERE)]))
    env.pop("SFTFORGE_TEST_KILL_AFTER_CHUNKS", None)
    env.pop("SFTFORGE_TEST_KILL_AFTER_STAGES", None)
    env |= env_extra or {}
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
