"""``split``: assign every sample to train / validation / test (or any names) in ``meta["split"]``.

- Sizes by ``ratios`` (fractions) or ``counts`` (exact numbers; ``rest`` takes what is left).
- Groups never cross splits: samples sharing a value of any ``group_by`` meta key (e.g. the same
  ``doc_id``), and near-duplicates of the ``view`` (MinHash, Jaccard >= ``near_dup_threshold``,
  joined transitively), form one group that goes to one split.
- ``stratify_by``: a meta key; each stratum is split with the same proportions. A group whose
  members span strata is counted in the stratum of its first sample.
- Seeded: the groups of each stratum are shuffled with ``seed``, ordered largest first (a stable
  sort, so equal sizes keep the shuffled order) and handed out one by one to the split furthest
  below its target, so sizes are exact when groups are single samples and within one group's
  size otherwise.

- Pinned samples: a sample whose ``meta["source"]`` is in ``pinned_sources`` (default the
  ``identity`` set) and that already names its split in ``meta["split"]`` keeps it, and takes no
  part in the division: the ratios and counts apply to the other samples (so an identity set made
  before the split stays in train and does not shift the validation size).

Nothing is dropped; samples come out in input order with ``meta["split"]`` set, for the pipeline
to route. ``report()`` adds the n-gram contamination of each split against ``train``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sample import Sample
from .base import GlobalOp, Reject, register_op
from .contamination import ContaminationCounter
from .dedup.groups import UnionFind, near_dup_unions
from .dedup.minhash import SEED, choose_bands, signatures
from .dedup.text import VIEWS, shingle_hashes, tokens, view_text
from .quota import largest_remainder

__all__ = ["Split"]

_BATCH = 2048


@register_op("split")
@dataclass(kw_only=True)
class Split(GlobalOp):
    """Seeded, stratified, grouped train/validation/test split written to ``meta["split"]``."""

    ratios: dict[str, float] | None = None  # default {"train": .9, "validation": .05, "test": .05}
    counts: dict[str, int] | None = None
    rest: str = "train"
    seed: int = 0
    stratify_by: str | None = None
    group_by: tuple[str, ...] | list[str] = ("doc_id",)
    near_dup_threshold: float | None = 0.8
    view: str = "prompt"
    ngram: int = 5
    num_perm: int = 128
    contamination_ngram: int | None = 13
    pinned_sources: tuple[str, ...] | list[str] = ("identity",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ratios is not None and self.counts is not None:
            raise ValueError("give either ratios or counts, not both")
        if self.counts is None and self.ratios is None:
            self.ratios = {"train": 0.9, "validation": 0.05, "test": 0.05}
        if self.ratios is not None and (
            any(v < 0 for v in self.ratios.values()) or sum(self.ratios.values()) <= 0
        ):
            raise ValueError(f"ratios must be non-negative and not all zero, got {self.ratios}")
        if self.ratios is not None and all(v <= 1 for v in self.ratios.values()):
            total = sum(self.ratios.values())
            if total > 1 + 1e-9:  # fractions that add up to more than everything: a typo
                parts = " + ".join(f"{k} {v:g}" for k, v in self.ratios.items())
                raise ValueError(
                    f"the split ratios are fractions that sum to {total:g} ({parts}), more "
                    "than 1; make them sum to 1, or give whole-number weights (train: 9, test: 1)"
                )
        if self.counts is not None and any(v < 0 for v in self.counts.values()):
            raise ValueError(f"counts must be non-negative, got {self.counts}")
        if self.view not in VIEWS:
            raise ValueError(f"view '{self.view}' is not one of: {', '.join(VIEWS)}")
        self.contamination: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}

    def split_names(self) -> list[str]:
        names = list(self.ratios or {}) or [*list(self.counts or {}), self.rest]
        return list(dict.fromkeys(names))

    def _targets(self, n: int, total: int) -> dict[str, int]:
        """Per-stratum target sizes (``n`` samples in this stratum, ``total`` overall)."""
        if self.ratios is not None:
            return largest_remainder(n, self.ratios)
        counts = self.counts or {}
        fixed = {k: v for k, v in counts.items() if k != self.rest}
        scaled = {k: round(v * n / total) if total else 0 for k, v in fixed.items()}
        out = dict.fromkeys(self.split_names(), 0) | scaled
        out[self.rest] = max(0, n - sum(scaled.values()))
        return out

    def pinned(self, sample: Sample) -> str | None:
        """The split a sample keeps (see the module docstring), or None."""
        split = sample.meta.get("split")
        if isinstance(split, str) and split and sample.meta.get("source") in self.pinned_sources:
            return split
        return None

    def _pass1(
        self, source: Callable[[], Iterator[Sample]]
    ) -> tuple[list[int], list[str], dict[int, str]]:
        """Group roots and strata of the samples to divide (numbered among themselves), and the
        pinned samples' splits by input position."""
        strata: list[str] = []
        keyed: dict[tuple[str, str], int] = {}
        batch: list[list[str]] = []
        sigs: list[np.ndarray] = []
        empty: list[bool] = []
        bands, rows = choose_bands(self.near_dup_threshold or 1.0, self.num_perm)
        links: list[tuple[int, int]] = []
        pinned: dict[int, str] = {}
        i = -1
        for pos, s in enumerate(source()):
            pin = self.pinned(s)
            if pin is not None:
                pinned[pos] = pin
                continue
            i += 1
            strata.append(str(s.meta.get(self.stratify_by, "")) if self.stratify_by else "")
            for key in self.group_by:
                if s.meta.get(key) not in (None, ""):
                    first = keyed.setdefault((key, str(s.meta[key])), i)
                    if first != i:
                        links.append((first, i))
            if self.near_dup_threshold is not None:
                toks = tokens(view_text(s, self.view))
                empty.append(not toks)
                batch.append(toks)
                if len(batch) == _BATCH:
                    sigs.append(signatures(*shingle_hashes(batch, self.ngram), self.num_perm, SEED))
                    batch = []
        uf = UnionFind(len(strata))
        for a, b in links:
            uf.union(a, b)
        if self.near_dup_threshold is not None and strata:
            sigs.append(signatures(*shingle_hashes(batch, self.ngram), self.num_perm, SEED))
            sig = np.concatenate(sigs)
            joins = near_dup_unions(
                uf, sig, bands, rows, self.near_dup_threshold, skip=np.asarray(empty)
            )
            self.counters.extra["near_dup_links"] += joins
        return uf.roots(), strata, pinned

    def assign(self, roots: list[int], strata: list[str]) -> list[str]:
        """The split name of every sample, from its group root and stratum."""
        group_size = Counter(roots)
        by_stratum: dict[str, list[int]] = {}
        for i, r in enumerate(roots):
            if r == i:
                by_stratum.setdefault(strata[i], []).append(r)
        total = len(roots)
        stratum_n = Counter(strata[r] for r in roots)
        names = self.split_names()
        split_of_root: dict[int, str] = {}
        for stratum in sorted(by_stratum):
            groups = by_stratum[stratum]
            random.Random(f"{self.seed}:{stratum}").shuffle(groups)
            groups.sort(key=lambda g: -group_size[g])  # big groups first: tighter sizes
            target = self._targets(stratum_n[stratum], total)
            have = dict.fromkeys(names, 0)
            for g in groups:
                name = max(names, key=lambda k: (target[k] - have[k], -names.index(k)))
                split_of_root[g] = name
                have[name] += group_size[g]
        self.counters.extra["groups"] += len(split_of_root)
        return [split_of_root[r] for r in roots]

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        roots, strata, pinned = self._pass1(source)
        divided = iter(self.assign(roots, strata))
        n = len(roots) + len(pinned)
        splits = [pinned[i] if i in pinned else next(divided) for i in range(n)]
        if pinned:
            self.counters.extra["pinned"] += len(pinned)
        self.sizes = dict(Counter(splits))
        for name, n in self.sizes.items():
            self.counters.extra[f"split:{name}"] += n
        counter = (
            ContaminationCounter(self.contamination_ngram) if self.contamination_ngram else None
        )
        buf: list[Sample] = []
        for i, s in enumerate(source()):
            s.meta["split"] = splits[i]
            self.counters.seen += 1
            buf.append(s)
            if len(buf) == _BATCH:
                yield from self._flush(buf, counter)
        yield from self._flush(buf, counter)
        self.contamination = counter.report() if counter else {}

    def _flush(self, buf: list[Sample], counter: ContaminationCounter | None) -> Iterator[Sample]:
        if counter is not None and buf:
            counter.add_batch(
                [view_text(s, self.view) for s in buf], [s.meta["split"] for s in buf]
            )
        self.counters.kept += len(buf)
        out = list(buf)
        buf.clear()
        yield from out

    def report(self) -> dict[str, Any]:
        """Split sizes and the contamination report, for the run report."""
        return {"sizes": dict(self.sizes), "contamination": dict(self.contamination)}
