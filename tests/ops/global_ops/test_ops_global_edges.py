"""Every whole-dataset operator: empty input, one sample, counters add up, JSON-safe rejects."""

from __future__ import annotations

import orjson
import pytest

from sftforge.ops import split as split_mod
from sftforge.ops.base import OPS, build_op

OPTIONS = {
    "dedup_exact": {},
    "dedup_near": {},
    "split": {},
    "mix": {"counts": {"A": 1}},
    "shuffle": {},
    "head": {"n": 1},
    "sample": {"n": 1},
    "identity": {"model_name": "M", "author": "A", "count": 1},
}


def test_every_global_op_is_registered() -> None:
    assert set(OPTIONS) | {"dedup_semantic"} <= set(OPS)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_empty_input(run_op, name) -> None:
    out, rejects = run_op(build_op(name, OPTIONS[name]), [])
    assert rejects == []
    assert len(out) == (1 if name == "identity" else 0)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_counters_add_up_and_rejects_serialise(mk, run_op, name) -> None:
    samples = [
        mk(t, id=f"s{i}", source="A")
        for i, t in enumerate(["x y z w v u", "x y z w v u", "hi", "其他的文本内容在这里"])
    ]
    op = build_op(name, OPTIONS[name])
    out, rejects = run_op(op, samples)
    c = op.counters
    assert c.seen == len(samples) == c.kept + sum(c.dropped.values())
    assert len(rejects) == sum(c.dropped.values())
    assert len(out) == c.kept + c.extra["generated"] + c.extra["upsampled"]
    for r in rejects:
        orjson.dumps(r.to_dict())


def test_split_independent_of_batching(mk, run_op, monkeypatch) -> None:
    samples = [
        mk(f"question {i} about topic {i % 7}", id=f"s{i}", doc_id=f"d{i % 13}") for i in range(60)
    ]
    a, _ = run_op(build_op("split", {"seed": 2}), samples)
    monkeypatch.setattr(split_mod, "_BATCH", 4)
    b, _ = run_op(build_op("split", {"seed": 2}), samples)
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
