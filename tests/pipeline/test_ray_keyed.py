"""The dedup parts of the Ray executor (``ray_keyed``) without Ray: the tasks run in this
process through a pool stand-in, and their merged drops must equal the operator's ``choose``
over every key at once, for any number of parts and with rows that earlier stages dropped."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sftforge.ops.base import GlobalOp, build_op, concat_keys
from sftforge.ops.dedup.groups import UnionFind
from sftforge.pipeline.ray_components import components
from sftforge.pipeline.ray_keyed import partitioned_drops
from sftforge.pipeline.worker import keys_path
from sftforge.sample import Message, Sample

WORDS = [
    "river",
    "mill",
    "boat",
    "child",
    "water",
    "evening",
    "bank",
    "count",
    "wave",
    "play",
    "old",
    "walk",
    "河",
    "岸",
    "船",
    "水",
    "孩子",
    "傍晚",
]


class InProcessPool:
    """``remote`` runs the task now; ``get`` hands the values back (what Ray would)."""

    def remote(self, fn: Any, *args: Any) -> Any:
        return fn(*args)

    def get(self, refs: list[Any]) -> list[Any]:
        return list(refs)


def _samples(n: int, seed: int) -> list[Sample]:
    """Families of near twins (a few words changed), exact twins, short and empty answers."""
    rng = random.Random(seed)
    bases = [[rng.choice(WORDS) for _ in range(rng.randint(6, 30))] for _ in range(n // 8)]
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.1:
            answer = rng.choice(["", "...", "ok", "好"])
        else:
            words = list(rng.choice(bases))
            for _ in range(rng.randint(0, 3)):
                words[rng.randrange(len(words))] = rng.choice(WORDS)
            answer = " ".join(words) if r < 0.8 else " ".join(words).upper() + "!"
        out.append(Sample([Message("user", f"q{i % 5}"), Message("assistant", answer)]))
    return out


def _keys_files(op: GlobalOp, samples: list[Sample], bdir: Path, step: int) -> list[int]:
    bdir.mkdir(parents=True, exist_ok=True)
    offsets = [0]
    for i, lo in enumerate(range(0, len(samples), 37)):
        part = samples[lo : lo + 37]
        data = {"rows": len(part), "keys": op.keys(part, {})}
        keys_path(bdir, i, step).write_bytes(pickle.dumps(data))
        offsets.append(offsets[-1] + len(part))
    return offsets


SPECS = [
    ("dedup_exact", {"view": "answer"}),
    ("dedup_exact", {"view": "whole", "keep": "longest"}),
    ("dedup_near", {"view": "answer", "threshold": 0.5, "ngram": 2}),
    ("dedup_near", {"view": "answer", "threshold": 0.6, "ngram": 1, "keep": "longest"}),
    ("dedup_near", {"view": "answer", "threshold": 0.5, "ngram": 2, "verify": "estimate"}),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s[0]}-{'-'.join(map(str, s[1].values()))}")
@pytest.mark.parametrize("parts", [1, 5])
def test_parts_give_the_drops_of_one_choose(
    tmp_path: Path, spec: tuple[str, dict[str, Any]], parts: int
) -> None:
    samples = _samples(700, seed=parts)
    op = build_op(*spec)
    assert isinstance(op, GlobalOp)
    offsets = _keys_files(op, samples, tmp_path / "base", step=3)
    gone = np.array(sorted(random.Random(1).sample(range(len(samples)), 60)), dtype=np.int64)
    alive = np.ones(len(samples), dtype=bool)
    alive[gone] = False
    rows = np.flatnonzero(alive)

    whole = build_op(*spec)
    assert isinstance(whole, GlobalOp)
    keys = concat_keys([whole.keys(samples, {})], alive)
    ref = whole.choose(keys, lambda _: iter(()))
    table, shuffled = partitioned_drops(
        InProcessPool(),
        op,
        spec,
        3,
        tmp_path / "base",
        offsets,
        gone,
        tmp_path / "w",
        parts,
        1 << 20,
    )
    assert len(ref) > 20  # duplicates were found, across chunks
    assert shuffled > 0 and not (tmp_path / "w").exists()
    assert table.positions.tolist() == rows[ref.positions].tolist()
    assert table.kept_positions.tolist() == rows[ref.kept_positions].tolist()
    assert table.value.tolist() == ref.value.tolist()
    assert [table.reasons[c] for c in table.reason] == [ref.reasons[c] for c in ref.reason]
    assert dict(op.counters.extra) == dict(whole.counters.extra)
    assert op.clusters == whole.clusters  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(5))
def test_components_equal_a_union_find(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    # chains (long paths need many rounds) and random edges
    a = np.concatenate([np.arange(0, 199), rng.integers(200, n, 150)])
    b = np.concatenate([np.arange(1, 200), rng.integers(200, n, 150)])
    swap = rng.random(len(a)) < 0.5
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    nodes, label = components(a, b)
    uf = UnionFind(n)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        uf.union(x, y)
    assert nodes.tolist() == sorted(set(a.tolist()) | set(b.tolist()))
    assert label.tolist() == [uf.find(int(x)) for x in nodes]
    empty = components(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty[0]) == 0
