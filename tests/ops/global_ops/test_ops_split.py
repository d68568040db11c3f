from __future__ import annotations

import random
from collections import Counter

import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op

STORY = (
    "the lighthouse keeper climbed the narrow stairs every night to light the lamp and watch the "
    "ships pass the rocky point where his father had once rescued a crew from a winter storm"
)


def random_zh(seed: int, n: int = 30) -> str:
    rng = random.Random(seed)
    return "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(n))


def splits_of(out) -> dict[str, str]:
    return {s.id: s.meta["split"] for s in out}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}},
            {"train": 80, "validation": 10, "test": 10},
        ),
        ({"ratios": {"train": 2, "test": 1}}, {"train": 67, "test": 33}),
        ({"counts": {"test": 7, "validation": 5}}, {"train": 88, "test": 7, "validation": 5}),
    ],
)
def test_sizes_exact_without_groups(mk, run_op, options, expected) -> None:
    samples = [mk(f"question number {i}", id=f"s{i}") for i in range(100)]
    op = build_op("split", options | {"near_dup_threshold": None})
    out, rejects = run_op(op, samples)
    assert rejects == [] and [s.id for s in out] == [s.id for s in samples]
    assert Counter(s.meta["split"] for s in out) == expected


def test_seeded_and_repeatable(mk, run_op) -> None:
    samples = [mk(f"question number {i}", id=f"s{i}") for i in range(50)]
    a = splits_of(run_op(build_op("split", {"seed": 1}), samples)[0])
    b = splits_of(run_op(build_op("split", {"seed": 1}), samples)[0])
    c = splits_of(run_op(build_op("split", {"seed": 2}), samples)[0])
    assert a == b and a != c


def test_stratified_proportions(mk, run_op) -> None:
    samples = [mk(f"math item {i}", id=f"m{i}", domain="math") for i in range(60)]
    samples += [mk(f"code item {i}", id=f"c{i}", domain="code") for i in range(40)]
    op = build_op("split", {"ratios": {"train": 0.5, "test": 0.5}, "stratify_by": "domain"})
    out, _ = run_op(op, samples)
    got = Counter((s.meta["domain"], s.meta["split"]) for s in out)
    assert got == {
        ("math", "train"): 30,
        ("math", "test"): 30,
        ("code", "train"): 20,
        ("code", "test"): 20,
    }


def test_groups_never_cross_splits(mk, run_op) -> None:
    samples = [
        mk(f"passage question {i}", id=f"d{i // 5}-{i}", doc_id=f"doc{i // 5}") for i in range(100)
    ]
    samples += [mk(STORY + f" variant{i}", id=f"n{i}") for i in range(10)]  # near-duplicates
    samples += [mk(f"lone question {i}", id=f"x{i}") for i in range(40)]
    op = build_op("split", {"ratios": {"train": 0.6, "validation": 0.2, "test": 0.2}, "seed": 3})
    out, _ = run_op(op, samples)
    by_group: dict[str, set[str]] = {}
    for s in out:
        group = s.meta.get("doc_id") or ("near" if s.id.startswith("n") else s.id)
        by_group.setdefault(group, set()).add(s.meta["split"])
    assert all(len(v) == 1 for v in by_group.values())
    assert op.counters.extra["near_dup_links"] == 9
    assert len({s.meta["split"] for s in out}) == 3


def test_contamination_report(mk, run_op) -> None:
    leak = (
        "please translate the following long sentence about the lighthouse keeper into french now"
    )
    samples = [mk(f"{leak} {i}", id=f"l{i}", doc_id=f"x{i}") for i in range(2)]
    samples += [mk(random_zh(i), id=f"s{i}") for i in range(20)]
    op = build_op(
        "split",
        {"counts": {"test": 1}, "near_dup_threshold": None, "group_by": ["doc_id"], "seed": 0},
    )
    out, _ = run_op(op, samples)
    report = op.report()["contamination"]
    test_ids = [s.id for s in out if s.meta["split"] == "test"]
    leaked = 1 if test_ids[0].startswith("l") else 0
    assert report["reference"] == "train" and report["ngram"] == 13
    assert report["splits"]["test"]["samples"] == 1
    assert report["splits"]["test"]["contaminated"] == leaked


def test_contamination_counts_cjk_char_13grams(mk, run_op) -> None:
    shared = "这是一段用来检测训练集和测试集之间重叠的中文句子"
    samples = [mk(shared + "甲", id="a", part="x"), mk(shared + "乙", id="b", part="y")]
    samples += [mk(random_zh(i), id=f"o{i}", part="x") for i in range(3)]
    op = build_op(
        "split",
        {
            "ratios": {"train": 0.5, "test": 0.5},
            "stratify_by": "part",
            "near_dup_threshold": None,
            "seed": 1,
        },
    )
    out, _ = run_op(op, samples)
    split = splits_of(out)
    report = op.report()["contamination"]["splits"]["test"]
    tests = [i for i, v in split.items() if v == "test"]
    expect = int(split["a"] != split["b"])
    assert report["samples"] == len(tests)
    assert report["contaminated"] == expect == 1  # seed 1 puts "a" in test


@pytest.mark.parametrize(
    "options",
    [{"ratios": {"train": 1}, "counts": {"test": 1}}, {"ratios": {"train": -1}}, {"view": "x"}],
)
def test_bad_options(options) -> None:
    with pytest.raises(RecipeError):
        build_op("split", options)


def test_group_sizes_close_to_target(mk, run_op) -> None:
    # 10 documents of 8 questions each plus 20 singletons: 100 samples, 80/10/10 wanted
    samples = [
        mk(f"doc {d} question {q}", id=f"d{d}q{q}", doc_id=f"doc{d}")
        for d in range(10)
        for q in range(8)
    ]
    samples += [mk(f"single question {i}", id=f"x{i}") for i in range(20)]
    op = build_op(
        "split",
        {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}, "near_dup_threshold": None},
    )
    out, _ = run_op(op, samples)
    sizes = Counter(s.meta["split"] for s in out)
    assert sizes == {"train": 80, "validation": 10, "test": 10}
    docs = {}
    for s in out:
        if "doc_id" in s.meta:
            docs.setdefault(s.meta["doc_id"], set()).add(s.meta["split"])
    assert all(len(v) == 1 for v in docs.values())
