from __future__ import annotations

from collections import Counter

import orjson
import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op


@pytest.fixture
def inputs(mk):
    a = [mk(f"a{i}", id=f"a{i}", source="A") for i in range(10)]
    b = [mk(f"b{i}", id=f"b{i}", source="B") for i in range(30)]
    return a + b


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"counts": {"A": 4, "B": 12}}, {"A": 4, "B": 12}),
        ({"counts": {"A": 25}}, {"A": 25, "B": 30}),  # upsampled A, unlisted B kept whole
        ({"weights": {"A": 2.0, "B": 0.5}}, {"A": 20, "B": 15}),
        ({"ratios": {"A": 0.5, "B": 0.5}}, {"A": 10, "B": 10}),  # largest size without upsampling
        ({"ratios": {"A": 0.5, "B": 0.5}, "total": 40}, {"A": 20, "B": 20}),
        ({"ratios": {"A": 0.2, "B": 0.8}, "total": 50, "caps": {"B": 25}}, {"A": 10, "B": 25}),
        ({"caps": {"B": 3}}, {"A": 10, "B": 3}),
    ],
)
def test_mix_counts_exact(run_op, inputs, options, expected) -> None:
    op = build_op("mix", options | {"seed": 5})
    out, rejects = run_op(op, inputs)
    assert Counter(s.meta["source"] for s in out) == expected
    drawn = Counter(s.meta.get("copy_of", s.id) for s in out)
    originals = {s.id for s in inputs}
    assert set(drawn) | {r.sample.id for r in rejects} == originals  # nothing lost
    assert not set(drawn) & {r.sample.id for r in rejects}


def test_upsampling_keeps_every_row_then_repeats(run_op, inputs) -> None:
    out, rejects = run_op(build_op("mix", {"counts": {"A": 23}, "seed": 1}), inputs)
    a = Counter(s.meta.get("copy_of", s.id) for s in out if s.meta["source"] == "A")
    assert rejects == [] and sum(a.values()) == 23 and set(a) == {f"a{i}" for i in range(10)}
    copies = [s for s in out if "copy_of" in s.meta]
    assert len(copies) == 13 and len({s.id for s in out}) == len(out)


def test_seeded(run_op, inputs) -> None:
    def ids(seed: int) -> list[str]:
        out, _ = run_op(build_op("mix", {"counts": {"B": 5}, "seed": seed}), inputs)
        return [s.id for s in out]

    assert ids(1) == ids(1) and ids(1) != ids(2)


def test_manifest_complete(run_op, inputs, tmp_path) -> None:
    op = build_op("mix", {"counts": {"A": 12, "B": 6}, "caps": {"B": 5}, "seed": 2})
    out, rejects = run_op(op, inputs)
    rows = op.manifest
    originals = [r for r in rows if "copy_of" not in r]
    assert [(r["source"], r["row"]) for r in originals] == [("A", i) for i in range(10)] + [
        ("B", i) for i in range(30)
    ]
    positions = sorted(r["output"] for r in rows if isinstance(r["output"], int))
    assert positions == list(range(len(out)))
    assert [out[r["output"]].id for r in rows if isinstance(r["output"], int)] == [
        r["id"] for r in rows if isinstance(r["output"], int)
    ]
    dropped = [r for r in rows if not isinstance(r["output"], int)]
    assert {r["output"] for r in dropped} == {"dropped: capped"} and len(dropped) == len(
        rejects
    ) == 25
    op.write_manifest(tmp_path / "m.jsonl")
    assert [orjson.loads(x) for x in (tmp_path / "m.jsonl").read_bytes().splitlines()] == rows


def test_rejects_name_reason(run_op, inputs) -> None:
    _, rejects = run_op(build_op("mix", {"counts": {"B": 10}}), inputs)
    assert Counter(r.reason for r in rejects) == {"downsampled": 20}
    assert {r.value for r in rejects} == {10}


def test_ratio_needs_every_source(run_op, inputs) -> None:
    with pytest.raises(RecipeError, match="sources B have no ratio"):
        run_op(build_op("mix", {"ratios": {"A": 1.0}}), inputs)


@pytest.mark.parametrize(
    "options", [{"ratios": {"A": 1}, "counts": {"A": 1}}, {"counts": {"A": -1}}, {"total": 5}]
)
def test_bad_options(options) -> None:
    with pytest.raises(RecipeError):
        build_op("mix", options)
