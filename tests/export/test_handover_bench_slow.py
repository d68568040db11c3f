"""The hand-over bench as a test (slow; needs the trainers' environments, bench/_venvs.py): each
export, moved to another folder, is loaded unedited by its trainer, trained one step on CPU, and
the trainer's rows equal ``tokenize --profile``'s, the same rows kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from handover_bench import TRAINERS, has_venv  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("trainer", TRAINERS)
def test_export_trains_as_is(trainer: str, tmp_path: Path) -> None:
    if not has_venv(trainer):
        pytest.skip(f"no {trainer} environment (.bench-venvs/{trainer})")
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "handover_bench.py"), "--trainers", trainer,
         "--sets", "quickstart,glaive_zh", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in json.loads(out.read_text(encoding="utf-8")):
        assert "error" not in r, r
        assert r["identical"] == r["profile_rows"] == r["trainer_rows"], r
        step = r["step"]
        # one step trains on CPU, unless the trainer says it cannot train on a CPU at all
        assert step is not None and (step["ok"] or step.get("cpu_limitation")), r
