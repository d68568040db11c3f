"""``field_filter``: select samples by a meta or Sample field (equals, one of, range, present)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

import sftforge.ops.filters  # noqa: F401  (registers the filters)
from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.ops.filters.fields import field_value
from sftforge.pipeline.run import run_recipe
from sftforge.sample import Message, Sample


def _s(answer: str = "答", **meta: Any) -> Sample:
    return Sample([Message("user", "问"), Message("assistant", answer)], meta=dict(meta))


def _run(options: dict[str, Any], samples: list[Sample]) -> tuple[list[Sample], list[Any]]:
    op = build_op("field_filter", options)
    return op.apply(samples)  # type: ignore[union-attr]


def test_keeps_human_verified_true_with_or_without_meta_prefix() -> None:
    samples = [_s(human_verified=True), _s(human_verified=False), _s()]
    for path in ("human_verified", "meta.human_verified"):
        kept, rejects = _run({"field": path, "equals": True}, samples)
        assert kept == [samples[0]]
        assert [r.reason for r in rejects] == [
            f"{path} is false, not true",
            f"{path} is absent, not true",
        ]
        assert [r.value for r in rejects] == [False, None]
        assert {r.op for r in rejects} == {"field_filter"}


def test_one_of_domains_and_text_values_from_csv() -> None:
    samples = [_s(domain="医学"), _s(domain="finance"), _s(domain="law")]
    kept, rejects = _run({"field": "domain", "one_of": ["医学", "law"]}, samples)
    assert kept == [samples[0], samples[2]]
    assert rejects[0].reason == 'domain is "finance", not one of ["医学","law"]'
    # a CSV cell is text: "true" and "4" compare with true and 4 as they read
    cells = [_s(ok=v) for v in ("TRUE", "no", 1, "是", "否", "maybe")]
    kept, _ = _run({"field": "ok", "equals": True}, cells)
    assert [s.meta["ok"] for s in kept] == ["TRUE", "是"]
    kept, _ = _run(
        {"field": "score", "min": 4}, [_s(score=" 4.5 "), _s(score="3"), _s(score="nan")]
    )
    assert [s.meta["score"] for s in kept] == [" 4.5 "]


def test_range_on_judge_scores_where_generate_judge_writes_them() -> None:
    samples = [_s(stats={"judge_overall": s}) for s in (3, 4, 9)] + [
        _s(),
        _s(stats={"judge_overall": "x"}),
    ]
    kept, rejects = _run({"field": "stats.judge_overall", "min": 4, "max": 8}, samples)
    assert kept == [samples[1]]
    assert [r.reason for r in rejects] == [
        "stats.judge_overall is 3, below min 4",
        "stats.judge_overall is 9, above max 8",
        "stats.judge_overall is absent, needs a number in [4, 8]",
        'stats.judge_overall is "x", not a number in [4, 8]',
    ]


def test_present_and_absent() -> None:
    samples = [_s(copyright="CC"), _s(), _s(copyright=None)]
    kept, _ = _run({"field": "copyright", "present": True}, samples)
    assert kept == [samples[0]]  # null counts as absent
    kept, rejects = _run({"field": "meta.copyright", "present": False}, samples)
    assert kept == samples[1:]
    assert rejects[0].reason == 'meta.copyright is "CC", not absent'


def test_nested_paths_list_indexes_and_sample_fields() -> None:
    s = _s(judge={"score": 5, "votes": [1, 4]})
    s.label = True
    assert field_value(s, "meta.judge.score") == 5
    assert field_value(s, "judge.votes.1") == 4
    assert field_value(s, "judge.votes.7") is None
    assert field_value(s, "judge.score.deeper") is None
    assert field_value(s, "label") is True  # a Sample field, not meta
    assert field_value(s, "id") == s.id
    kept, _ = _run({"field": "meta.judge.score", "min": 4}, [s, _s(judge={"score": 2})])
    assert kept == [s]


def test_metric_is_stored_like_every_filter_and_decided_from_the_store() -> None:
    op = build_op("field_filter", {"field": "domain", "equals": "law"})
    s = _s(domain="law")
    assert op.apply([s])[0] == [s]
    assert s.meta["stats"] == {"field_filter:domain": "law"}
    # the value reads meta, which the content fingerprint leaves out: never reused stale
    s.meta["domain"] = "finance"
    kept, rejects = op.apply([s])
    assert kept == [] and rejects[0].value == "finance"
    assert "stats_fp" not in s.meta


def test_bad_options_are_recipe_errors() -> None:
    with pytest.raises(RecipeError, match="needs a condition"):
        build_op("field_filter", {"field": "x"})
    with pytest.raises(RecipeError, match="one of equals, one_of"):
        build_op("field_filter", {"field": "x", "equals": 1, "one_of": [1]})
    with pytest.raises(RecipeError, match="greater than max"):
        build_op("field_filter", {"field": "x", "min": 5, "max": 1})
    with pytest.raises(RecipeError, match="field"):
        build_op("field_filter", {"field": " ", "present": True})
    op = build_op("field_filter", {"field": "x", "present": True})
    assert pickle.loads(pickle.dumps(op)).options() == op.options()


def test_recipe_keeps_verified_domains_and_good_judge_scores(tmp_path: Path) -> None:
    rows = [
        _s("a1", human_verified=True, domain="医学", stats={"judge_overall": 8}),
        _s("a2", human_verified=False, domain="医学", stats={"judge_overall": 9}),
        _s("a3", human_verified=True, domain="finance", stats={"judge_overall": 9}),
        _s("a4", human_verified=True, domain="law", stats={"judge_overall": 3}),
        _s("a5", human_verified=True, domain="law", stats={"judge_overall": 4}),
    ]
    (tmp_path / "in.jsonl").write_text(
        "".join(s.to_json().decode() + "\n" for s in rows), encoding="utf-8"
    )
    recipe = {
        "inputs": [{"path": "in.jsonl", "format": "sftforge"}],
        "steps": [
            {"field_filter": {"field": "human_verified", "equals": True}},
            {"field_filter": {"field": "domain", "one_of": ["医学", "law"]}},
            {"field_filter": {"field": "meta.stats.judge_overall", "min": 4}},
        ],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    res = run_recipe(tmp_path / "recipe.yaml", tmp_path / "run", workers=1)
    kept = [json.loads(x) for x in res.outputs["train"].read_text("utf-8").splitlines()]
    assert [r["messages"][1]["content"] for r in kept] == ["a1", "a5"]
    rejects = [json.loads(x) for x in res.rejects.read_text("utf-8").splitlines()]
    assert sorted((r["sample"]["messages"][1]["content"], r["reason"]) for r in rejects) == [
        ("a2", "human_verified is false, not true"),
        ("a3", 'domain is "finance", not one of ["医学","law"]'),
        ("a4", "meta.stats.judge_overall is 3, below min 4"),
    ]


def test_documented_with_every_option() -> None:
    import dataclasses
    import re

    from sftforge.ops.base import OPS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operators.md").read_text("utf-8")
    row = next(ln for ln in doc.splitlines() if ln.startswith("| `field_filter` |"))
    options = {f.name for f in dataclasses.fields(OPS["field_filter"]) if f.init} - {"targets"}
    assert options - set(re.findall(r"`([a-z_]+)`", row)) == set()
    assert "stats.judge_overall" in doc and "#### Selecting by fields" in doc
