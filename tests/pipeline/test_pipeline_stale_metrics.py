"""A filter metric is reused only for the text it was computed from.

Every recipe here measures the answers (``length_filter`` on the assistant turns), then cleans
them (``clean_html``) and measures them again under the same metric key, in one stage, across
stages, from an earlier run's output, and through the cross-run metric cache. The answers are
``<p>xxx...</p>``: 12, 15 and 19 characters as read, 5, 8 and 12 once cleaned, so a second
filter with ``max: 10`` keeps two of them on the cleaned lengths and none on stale ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_helpers import read_rows

from sftforge.ops.filters.length import LengthFilter
from sftforge.pipeline import run_recipe
from sftforge.sample import Message, Sample

KEY = "length_filter:chars@assistant"
ANSWERS = ["<p>xxxxx</p>", "<p>xxxxxxxx</p>", "<p>xxxxxxxxxxxx</p>"]
MEASURE: dict[str, Any] = {"length_filter": {"targets": "assistant", "min": 1}}
CLEAN: dict[str, Any] = {"clean_html": {}}
AT_MOST_10: dict[str, Any] = {"length_filter": {"targets": "assistant", "max": 10}}


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.jsonl"
    samples = [
        Sample([Message("user", f"question {i}"), Message("assistant", a)])
        for i, a in enumerate(ANSWERS)
    ]
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in samples))
    return path


def _run(
    tmp_path: Path, name: str, steps: list[Any], inp: Path, *, cache: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    recipe = {
        "chunk_size": 2,
        "cache": cache,
        "inputs": [{"path": str(inp), "name": "in", "format": "sftforge"}],
        "steps": steps,
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    res = run_recipe(path, tmp_path / name, workers=1)
    return read_rows(res.outputs["train"]), read_rows(res.rejects)


def _check_cleaned(kept: list[dict[str, Any]], rejects: list[dict[str, Any]]) -> None:
    """The second measure saw the cleaned answers: 5 and 8 kept, 12 dropped."""
    assert [r["messages"][1]["content"] for r in kept] == ["xxxxx", "xxxxxxxx"]
    assert [r["meta"]["stats"][KEY] for r in kept] == [5, 8]
    assert [(r["op"], r["reason"], r["value"]) for r in rejects] == [
        ("length_filter", "chars above max 10", 12)
    ]
    assert rejects[0]["sample"]["meta"]["stats"] == {KEY: 12}
    # the fingerprints that go with the metrics are bookkeeping, not in the run's files
    assert all("stats_fp" not in r["meta"] for r in [*kept, *(r["sample"] for r in rejects)])


def test_a_mapper_between_two_filters_of_one_stage(tmp_path: Path, answers: Path) -> None:
    _check_cleaned(*_run(tmp_path, "run", [MEASURE, CLEAN, AT_MOST_10], answers))


def test_a_mapper_in_a_later_stage(tmp_path: Path, answers: Path) -> None:
    steps = [MEASURE, {"dedup_exact": {}}, CLEAN, AT_MOST_10]
    _check_cleaned(*_run(tmp_path, "run", steps, answers))


def test_metrics_read_from_an_earlier_runs_output(tmp_path: Path, answers: Path) -> None:
    first, _ = _run(tmp_path, "first", [MEASURE], answers)
    assert [r["meta"]["stats"][KEY] for r in first] == [12, 15, 19]
    _check_cleaned(*_run(tmp_path, "second", [CLEAN, AT_MOST_10], tmp_path / "first/train.jsonl"))


def test_the_metric_cache_serves_each_filter_its_own_value(
    tmp_path: Path, answers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    stats = LengthFilter.stats
    monkeypatch.setattr(LengthFilter, "stats", lambda self, s: calls.append(s.id) or stats(self, s))
    _check_cleaned(*_run(tmp_path, "first", [MEASURE, CLEAN, AT_MOST_10], answers, cache=True))
    assert len(calls) == 6
    # a threshold change only: the first filter now drops the 12-character answer as read
    # (5 once cleaned), the second one the 12-character cleaned answer (19 as read)
    steps = [{"length_filter": {"targets": "assistant", "min": 13}}, CLEAN, AT_MOST_10]
    kept, rejects = _run(tmp_path, "cached", steps, answers, cache=True)
    assert len(calls) == 6  # every metric came from the cache
    assert [r["messages"][1]["content"] for r in kept] == ["xxxxxxxx"]
    assert [r["meta"]["stats"][KEY] for r in kept] == [8]
    assert [(r["reason"], r["value"]) for r in rejects] == [
        ("chars below min 13", 12),
        ("chars above max 10", 12),
    ]
    _run(tmp_path, "cold", steps, answers)
    assert len(calls) == 6 + 5
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (tmp_path / "cached" / name).read_bytes() == (tmp_path / "cold" / name).read_bytes()
