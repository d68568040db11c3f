"""kill -9 in the middle of a run, run again: the outputs are byte-identical to a clean run."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from pipeline_helpers import run_cli


def _cli(
    args: list[str], cwd: Path, kill_after: int | None = None
) -> subprocess.CompletedProcess[str]:
    hook = {} if kill_after is None else {"SFTFORGE_TEST_KILL_AFTER_CHUNKS": str(kill_after)}
    return run_cli(args, cwd, hook)


# 60 samples in chunks of 4: stage 0 has 15 chunks (the broken line rides in one), then the
# dedup (a global stage), then a map stage over its 11 samples (3 chunks): 17 stops in there
@pytest.mark.parametrize(("kill_after", "workers"), [(3, "2"), (5, "1"), (17, "2")])
def test_kill_and_resume_is_byte_identical(
    write_recipe: Callable[..., Path], tmp_path: Path, kill_after: int, workers: str
) -> None:
    recipe = write_recipe(chunk_size=4)
    clean = _cli(["run", str(recipe), "-o", "clean", "--workers", workers], tmp_path)
    assert clean.returncode == 0, clean.stderr

    killed = _cli(["run", str(recipe), "-o", "killed", "--workers", workers], tmp_path, kill_after)
    assert killed.returncode == -signal.SIGKILL
    manifest = orjson.loads((tmp_path / "killed" / ".work" / "manifest.json").read_bytes())
    assert sum(len(s["done"]) for s in manifest["stages"].values()) == kill_after
    assert not (tmp_path / "killed" / "train.jsonl").exists()

    resumed = _cli(["run", str(recipe), "-o", "killed", "--workers", workers], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    report = orjson.loads((tmp_path / "killed" / "report.json").read_bytes())
    assert sum(s["resumed_chunks"] for s in report["stages"]) == kill_after
    assert (
        report["counts"]
        == orjson.loads((tmp_path / "clean" / "report.json").read_bytes())["counts"]
    )
    assert not (tmp_path / "killed" / ".work").exists()


def test_fresh_ignores_the_checkpoint(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    recipe = write_recipe(chunk_size=4)
    assert (
        _cli(["run", str(recipe), "-o", "r", "-w", "1"], tmp_path, 2).returncode == -signal.SIGKILL
    )
    fresh = _cli(["run", str(recipe), "-o", "r", "-w", "1", "--fresh"], tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    report = orjson.loads((tmp_path / "r" / "report.json").read_bytes())
    assert sum(s["resumed_chunks"] for s in report["stages"]) == 0


def test_a_changed_recipe_starts_over(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    recipe = write_recipe(chunk_size=4)
    assert (
        _cli(["run", str(recipe), "-o", "r", "-w", "1"], tmp_path, 2).returncode == -signal.SIGKILL
    )
    recipe = write_recipe([{"t_minlen": {"min_chars": 12}}], chunk_size=4)
    again = _cli(["run", str(recipe), "-o", "r", "-w", "1"], tmp_path)
    assert again.returncode == 0, again.stderr
    report = orjson.loads((tmp_path / "r" / "report.json").read_bytes())
    assert sum(s["resumed_chunks"] for s in report["stages"]) == 0


def test_cli_prints_where_things_are(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    done = _cli(["run", str(write_recipe()), "-o", "runs/demo", "-w", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("read 61, kept 11, rejected 50 in ")
    assert lines[1:] == [
        "  train: runs/demo/train.jsonl",
        "  rejects: runs/demo/rejects.jsonl",
        "  report:  runs/demo/report.html (data: report.json)",
        "  lock:    runs/demo/recipe.lock.yaml",
    ]


def test_cli_error_is_one_line(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    done = _cli(["run", str(write_recipe([{"t_minlen": {"min": 1}}])), "-o", "r"], tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {tmp_path / 'recipe.yaml'}, field 'steps[1].t_minlen': operator 't_minlen' has no"
        " option 'min'. Fix: valid options for 't_minlen': min_chars, targets\n"
    )
