"""Changing a filter threshold and rerunning reuses the cached metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pipeline_testops

from conftest import read_rows
from sftforge.pipeline import run_recipe


def _run(write_recipe: Callable[..., Path], out: Path, steps: list[object], **kw: object) -> int:
    before = len(pipeline_testops.STATS_CALLS)
    res = run_recipe(write_recipe(steps, **kw), out, workers=1)
    assert res.counts["read"] == 61
    return len(pipeline_testops.STATS_CALLS) - before


def test_threshold_change_reuses_metrics(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    steps: list[object] = [{"t_strip": {}}, {"t_minlen": {"min_chars": 1}}]
    assert _run(write_recipe, tmp_path / "a", steps) == 60
    steps[1] = {"t_minlen": {"min_chars": 13}}
    assert _run(write_recipe, tmp_path / "b", steps) == 0
    # the decision used the new threshold on the cached values
    assert len(read_rows(tmp_path / "b" / "train.jsonl")) == 0
    assert len(read_rows(tmp_path / "a" / "train.jsonl")) == 51


def test_outputs_match_a_cold_run(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    steps: list[object] = [{"t_strip": {}}, {"t_minlen": {"min_chars": 11}}]
    _run(write_recipe, tmp_path / "warm-up", [{"t_strip": {}}, {"t_minlen": {"min_chars": 2}}])
    assert _run(write_recipe, tmp_path / "cached", steps) == 0
    assert _run(write_recipe, tmp_path / "cold", steps, cache=False) == 60
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (tmp_path / "cached" / name).read_bytes() == (tmp_path / "cold" / name).read_bytes()


def test_a_changed_mapper_recomputes(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    assert _run(write_recipe, tmp_path / "a", [{"t_strip": {}}, {"t_minlen": {}}]) == 60
    changed = [{"t_strip": {"suffix": "?"}}, {"t_minlen": {}}]
    assert _run(write_recipe, tmp_path / "b", changed) == 60
    assert _run(write_recipe, tmp_path / "c", changed) == 0
