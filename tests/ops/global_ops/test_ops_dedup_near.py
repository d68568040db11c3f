from __future__ import annotations

import random

import numpy as np
import pytest

from sftforge.ops import base as base_mod
from sftforge.ops.base import build_op
from sftforge.ops.dedup.minhash import candidate_probability, choose_bands
from sftforge.ops.dedup.text import shingles, tokens

EN = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch and "
    "thinks about the harvest that will come in autumn when the leaves turn red and gold and the "
    "children return to school in the small village near the river. Every evening the old "
    "miller walks along the bank counting the boats that drift past his mill, humming songs his "
    "mother taught him long ago, and wondering whether the rain will hold off until the wheat is in"
)
ZH = (
    "春天来了，公园里的花都开了，红的像火，粉的像霞，白的像雪。小朋友们在草地上放风筝，老人们在树下"
    "下棋聊天，年轻人沿着湖边跑步。阳光温暖，微风轻拂，到处都充满了生机与活力，让人心情格外舒畅。"
)


def edit_words(text: str, k: int, seed: int) -> str:
    words = text.split()
    rng = random.Random(seed)
    for i in rng.sample(range(len(words)), k):
        words[i] = f"w{rng.randrange(10**6)}"
    return " ".join(words)


def edit_chars(text: str, k: int, seed: int) -> str:
    chars = list(text)
    rng = random.Random(seed)
    for i in rng.sample(range(len(chars)), k):
        chars[i] = chr(0x4E00 + rng.randrange(20000))
    return "".join(chars)


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(tokens(a), n), shingles(tokens(b), n)
    return len(sa & sb) / len(sa | sb)


def reference_greedy(texts: list[str], threshold: float) -> dict[int, tuple[int, float]]:
    """Brute force: each text against every earlier kept one, exact Jaccard, first best wins."""
    kept: list[int] = []
    dropped: dict[int, tuple[int, float]] = {}
    for j, t in enumerate(texts):
        sims = [(jaccard(texts[i], t), -i) for i in kept]
        best = max(sims, default=(0.0, 0))
        if best[0] >= threshold:
            dropped[j] = (-best[1], best[0])
        else:
            kept.append(j)
    return dropped


@pytest.mark.parametrize(("base", "edit"), [(EN, edit_words), (ZH, edit_chars)])
def test_planted_edits_match_exact_jaccard(mk, run_op, base, edit) -> None:
    texts = [base] + [edit(base, k, seed) for seed, k in enumerate([1, 2, 3, 6, 12, 25])]
    texts += [edit(ZH if base is EN else EN, 1, 99)]  # unrelated text
    samples = [mk(t, id=f"s{i}") for i, t in enumerate(texts)]
    out, rejects = run_op(build_op("dedup_near", {"view": "prompt"}), samples)
    expected = reference_greedy(texts, 0.8)
    got = {int(r.sample.id[1:]): (int(r.kept_id[1:]), r.value) for r in rejects}
    assert set(got) == set(expected)
    for j, (kept, sim) in expected.items():
        assert got[j] == (kept, round(sim, 4))
    assert len(out) + len(rejects) == len(samples)
    assert 1 in got and 6 not in got  # one edit is a duplicate, 25 edits are not


def test_near_dup_reason_and_twin(mk, run_op) -> None:
    samples = [mk(EN, id="orig"), mk(EN.replace("lazy", "sleepy"), id="copy")]
    _, rejects = run_op(build_op("dedup_near", {"view": "prompt"}), samples)
    (r,) = rejects
    assert (r.op, r.reason, r.kept_id, r.sample.id) == (
        "dedup_near",
        "near_duplicate",
        "orig",
        "copy",
    )
    assert r.value == round(jaccard(EN, EN.replace("lazy", "sleepy")), 4)


@pytest.mark.parametrize(
    ("users", "kept", "reasons"),
    [
        (["hi", "Hi!", "hi there"], ["s0", "s2"], ["short_exact_duplicate"]),
        (["你好", "你好吗", "您好"], ["s0", "s1", "s2"], []),
        (["ok", EN + " ok"], ["s0", "s1"], []),
        (["what is two plus two", "what is two plus three"], ["s0", "s1"], []),
    ],
)
def test_short_texts_only_exact(mk, run_op, users, kept, reasons) -> None:
    samples = [mk(u, id=f"s{i}") for i, u in enumerate(users)]
    op = build_op("dedup_near", {"view": "prompt", "threshold": 0.5})
    out, rejects = run_op(op, samples)
    assert [s.id for s in out] == kept
    assert [r.reason for r in rejects] == reasons
    assert op.counters.extra["short_view"] == sum(len(tokens(u)) < 5 for u in users)


@pytest.mark.parametrize("verify", ["exact", "estimate"])
def test_deterministic_across_runs_and_batching(mk, run_op, monkeypatch, verify) -> None:
    rng = random.Random(7)
    texts = [edit_words(EN, rng.randrange(0, 8), s) for s in range(40)]
    texts += [edit_chars(ZH, rng.randrange(0, 8), s) for s in range(40)]
    samples = [mk(t, id=f"s{i}") for i, t in enumerate(texts)]
    opts = {"view": "prompt", "verify": verify}
    out1, rej1 = run_op(build_op("dedup_near", opts), samples)
    monkeypatch.setattr(base_mod, "KEY_BATCH", 3)  # keys in slices of 3
    out2, rej2 = run_op(build_op("dedup_near", opts), samples)
    assert [s.id for s in out1] == [s.id for s in out2]
    assert [r.to_dict() for r in rej1] == [r.to_dict() for r in rej2]
    expected = reference_greedy(texts, 0.8)
    assert len(expected) >= 10
    if verify == "exact":
        assert {r.sample.id for r in rej1} == {f"s{j}" for j in expected}


def test_keep_longest_prefers_longer(mk, run_op) -> None:
    samples = [mk(EN, "short", id="a"), mk(EN + " indeed", "a much longer answer here", id="b")]
    out, rejects = run_op(build_op("dedup_near", {"view": "prompt", "keep": "longest"}), samples)
    assert [s.id for s in out] == ["b"]
    assert rejects[0].kept_id == "b"


def test_cluster_histogram(mk, run_op) -> None:
    samples = [mk(EN), mk(EN + " yes"), mk(EN + " no"), mk(ZH), mk(ZH + "啊"), mk("solo text here")]
    op = build_op("dedup_near", {"view": "prompt"})
    run_op(op, samples)
    assert op.report()["cluster_sizes"] == {"1": 1, "2": 1, "3-4": 1}


@pytest.mark.parametrize(
    ("threshold", "num_perm", "expected"), [(0.8, 128, (21, 6)), (0.5, 128, (42, 3))]
)
def test_choose_bands(threshold, num_perm, expected) -> None:
    bands, rows = choose_bands(threshold, num_perm)
    assert (bands, rows) == expected
    assert candidate_probability(threshold, bands, rows) >= 0.99
    assert candidate_probability(threshold, num_perm // (rows + 1), rows + 1) < 0.99


def _partition(buckets) -> set[tuple[int, ...]]:
    import numpy as np

    out = set()
    for b in range(buckets.shape[1]):
        col = buckets[:, b]
        for v in np.unique(col[col >= 0]):
            out.add((b, *np.flatnonzero(col == v).tolist()))
    return out


@pytest.mark.parametrize("mask", [None, 7, 0])
def test_band_hashes_give_the_same_buckets(mask) -> None:
    """Buckets from band hashes (computed in the workers) equal buckets from the bands, even
    when hashes collide (mask 7: a few values; 0: every band collides)."""
    import numpy as np

    from sftforge.ops.dedup.minhash import band_buckets, band_hashes

    rng = np.random.default_rng(3)
    sig = rng.integers(0, 4, size=(300, 12), dtype=np.uint32)  # small values: many shared bands
    sig[100:150] = sig[:50]  # and whole duplicates
    hashes = band_hashes(sig, 4, 3)
    assert np.array_equal(hashes[100:150], hashes[:50])
    if mask is not None:
        hashes = hashes & np.uint64(mask)
    plain = band_buckets(sig, 4, 3)
    fast = band_buckets(sig, 4, 3, hashes)
    assert np.array_equal(plain >= 0, fast >= 0)
    assert _partition(plain) == _partition(fast)
    assert len({int(v) for v in fast[fast >= 0]}) == len(_partition(fast))  # unique across bands


def test_unique_rows_equals_numpy_unique_per_row() -> None:
    """``unique_rows`` (each row sorted in place, repeats dropped) against ``np.unique`` row by
    row, empty rows and rows whose first value equals the row before's last included."""
    from sftforge.ops.dedup.text import unique_rows

    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(0, 10))
        lens = rng.integers(0, 6, n) * rng.integers(0, 2, n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        flat = rng.integers(0, 4, int(offsets[-1])).astype(np.uint64)
        values, sizes = unique_rows(flat, offsets)
        rows = [np.unique(flat[offsets[i] : offsets[i + 1]]) for i in range(n)]
        want = np.concatenate(rows) if rows else np.zeros(0, dtype=np.uint64)
        assert values.dtype == np.uint64 and sizes.dtype == np.int64
        assert np.array_equal(values, want)
        assert sizes.tolist() == [len(r) for r in rows]


@pytest.mark.parametrize("walk", ["input", "reversed"])
def test_bucket_table_in_hash_parts_gives_the_same_buckets(tmp_path, walk) -> None:
    """Past its limit ``bucket_table`` groups each band in hash parts (and writes the table to
    a file): the same buckets (ids may differ) and the same involved samples as in memory."""
    from sftforge.ops.dedup.minhash import bucket_table
    from sftforge.ops.dedup.spill import Column, Spill

    rng = np.random.default_rng(11)
    bands = rng.integers(0, 40, size=(500, 5)).astype(np.uint64)  # many shared buckets
    bands[:, 4] = rng.integers(0, 2**63, size=500, dtype=np.uint64)  # a band of singletons
    order = None if walk == "input" else np.arange(499, -1, -1, dtype=np.int64)

    def buckets(limit: int) -> tuple[set[tuple[int, ...]], np.ndarray, bool]:
        table = bucket_table(Column(bands), order, Spill(1 << 30, tmp_path), limit)
        col = table.block(0, len(table)).reshape(5, 500).T  # walk order, one column a band
        involved = (col >= 0).any(axis=1)  # samples sharing at least one bucket
        return _partition(col), involved, table.spilled

    whole, inv_whole, spilled_whole = buckets(1 << 30)
    parts, inv_parts, spilled_parts = buckets(64 * 50)  # 10 parts, and the table to a file
    assert not spilled_whole and spilled_parts
    assert parts == whole and np.array_equal(inv_parts, inv_whole)
    assert len(whole) > 50 and not any(b == 4 for b, *_ in whole)
