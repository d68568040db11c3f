"""Properties of both dedups on generated data: nothing lost, idempotent, every twin is kept."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftforge.ops.base import build_op

WORDS = ["alpha", "beta", "gamma", "delta", "的", "是", "我", "你", "Beta", "GAMMA!", "ｄｅｌｔａ"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prompts=st.lists(texts, min_size=0, max_size=25),
    name=st.sampled_from(["dedup_exact", "dedup_near"]),
)
def test_dedup_properties(mk, run_op, prompts, name) -> None:
    samples = [mk(p or "x", id=f"s{i}") for i, p in enumerate(prompts)]
    opts = {"view": "prompt"} | ({"threshold": 0.7} if name == "dedup_near" else {})
    op = build_op(name, opts)
    out, rejects = run_op(op, samples)
    kept_ids = [s.id for s in out]
    # nothing lost, order kept
    assert sorted(kept_ids + [r.sample.id for r in rejects]) == sorted(s.id for s in samples)
    assert kept_ids == [s.id for s in samples if s.id in set(kept_ids)]
    # every reject names a kept twin that comes before it, with a similarity at the threshold
    for r in rejects:
        assert r.kept_id in kept_ids and int(r.kept_id[1:]) < int(r.sample.id[1:])
        assert r.value >= 0.7
    # idempotent: deduplicating the output again removes nothing
    again, more = run_op(build_op(name, opts), out)
    assert more == [] and [s.id for s in again] == kept_ids


def _same_keys(a: dict, b: dict) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prompts=st.lists(texts, min_size=0, max_size=25),
    cut=st.integers(min_value=1, max_value=7),
    keep=st.sampled_from(["first", "longest"]),
)
def test_keys_do_not_depend_on_slicing_or_sharing(mk, prompts, cut, keep) -> None:
    """What lets an executor compute keys per chunk, in any worker, for both dedups at once."""
    from sftforge.ops.base import concat_keys

    samples = [mk(p or "x", p[::-1], id=f"s{i}") for i, p in enumerate(prompts)]
    ops = [build_op("dedup_exact", {"keep": keep}), build_op("dedup_near", {"keep": keep})]
    whole = [op.keys(samples, {}) for op in ops]
    memos = [{} for _ in range(0, len(samples), cut)]
    for op, expect in zip(ops, whole, strict=True):
        parts = [
            op.keys(samples[lo : lo + cut], memos[k])  # the memo is shared by both ops
            for k, lo in enumerate(range(0, len(samples), cut))
        ] or [op.keys([], {})]
        assert _same_keys(concat_keys(parts), expect)
        assert all(len(v) == len(samples) for k, v in expect.items() if not k.endswith("@values"))
