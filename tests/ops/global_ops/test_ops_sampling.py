from __future__ import annotations

import pytest

from sftforge.ops.base import build_op


@pytest.fixture
def data(mk):
    return [mk(f"q{i}", id=f"s{i}") for i in range(23)]


@pytest.mark.parametrize("bucket_size", [4, 50_000])
def test_shuffle_is_a_seeded_permutation(run_op, data, bucket_size, tmp_path) -> None:
    opts = {"seed": 3, "bucket_size": bucket_size, "tmp_dir": str(tmp_path)}
    out, rejects = run_op(build_op("shuffle", opts), data)
    again, _ = run_op(build_op("shuffle", opts), data)
    other, _ = run_op(build_op("shuffle", opts | {"seed": 4}), data)
    assert rejects == [] and sorted(s.id for s in out) == sorted(s.id for s in data)
    assert [s.id for s in out] == [s.id for s in again] != [s.id for s in data]
    assert [s.id for s in other] != [s.id for s in out]
    assert list(tmp_path.iterdir()) == []


def test_shuffle_same_order_with_or_without_spill(run_op, data) -> None:
    small, _ = run_op(build_op("shuffle", {"seed": 9, "bucket_size": 3}), data)
    big, _ = run_op(build_op("shuffle", {"seed": 9}), data)
    assert [s.to_dict() for s in small] == [s.to_dict() for s in big]


def test_head(run_op, data) -> None:
    out, rejects = run_op(build_op("head", {"n": 5}), data)
    assert [s.id for s in out] == [f"s{i}" for i in range(5)]
    assert [r.sample.id for r in rejects] == [f"s{i}" for i in range(5, 23)]
    assert {r.reason for r in rejects} == {"head"}


@pytest.mark.parametrize(
    ("options", "kept"), [({"n": 7}, 7), ({"fraction": 0.5}, 12), ({"n": 99}, 23)]
)
def test_sample(run_op, data, options, kept) -> None:
    out, rejects = run_op(build_op("sample", options | {"seed": 1}), data)
    again, _ = run_op(build_op("sample", options | {"seed": 1}), data)
    assert len(out) == kept and len(rejects) == 23 - kept
    assert [s.id for s in out] == [s.id for s in again]
    ids = [s.id for s in out]
    assert ids == sorted(ids, key=lambda x: int(x[1:]))  # input order kept


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("head", {"n": -1}),
        ("sample", {"n": -2}),
        ("sample", {}),
        ("sample", {"n": 1, "fraction": 0.5}),
        ("sample", {"fraction": 2.0}),
        ("shuffle", {"bucket_size": 0}),
    ],
)
def test_bad_options(name, options) -> None:
    from sftforge.errors import RecipeError

    with pytest.raises(RecipeError):
        build_op(name, options)
