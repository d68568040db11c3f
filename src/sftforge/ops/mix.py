"""``mix``: combine inputs by ratio, weight or count, with up/down-sampling and per-source caps.

The source of a sample is ``meta["source"]`` (the pipeline sets it to the input's name; a sample
without it belongs to ``"default"``). Per source, a target count comes from exactly one of:

- ``counts``: that many rows (unlisted sources keep all their rows);
- ``weights``: ``round(weight x rows)``; weight 2 doubles a source, 0.5 halves it (unlisted: 1);
- ``ratios``: shares of the output, which has ``total`` rows, or when ``total`` is not given the
  largest size reachable without upsampling any source. Every source present must be listed.

then ``caps`` lower it. Below the source size rows are drawn without replacement (seeded); above
it every row is kept once and the extra rows are drawn with replacement, so upsampling never
leaves a row out. A copy gets the id ``<id>~<k>`` and ``meta["copy_of"]``. Rows not drawn are
rejects (reason ``downsampled`` or ``capped``): nothing is lost.

Output order: input order, each copy right after its original (add ``shuffle`` to mix them).
``manifest`` lists every input row: source, row index within the source, id, output position or
``dropped: <reason>``; ``write_manifest`` saves it as JSONL.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import RecipeError
from ..sample import Sample
from .base import GlobalOp, Reject, register_op
from .quota import largest_remainder

__all__ = ["Mix"]

DEFAULT_SOURCE = "default"


def source_of(sample: Sample) -> str:
    return str(sample.meta.get("source") or DEFAULT_SOURCE)


@register_op("mix")
@dataclass(kw_only=True)
class Mix(GlobalOp):
    """Mix sources (``meta["source"]``) by ``ratios``/``weights``/``counts``, with ``caps``."""

    ratios: dict[str, float] | None = None
    weights: dict[str, float] | None = None
    counts: dict[str, int] | None = None
    total: int | None = None
    caps: dict[str, int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        given = [k for k in ("ratios", "weights", "counts") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of ratios, weights, counts (got {', '.join(given)})")
        for name in ("ratios", "weights", "counts", "caps"):
            table = getattr(self, name) or {}
            if any(v < 0 for v in table.values()):
                raise ValueError(f"{name} must not be negative, got {table}")
        if self.total is not None and self.ratios is None:
            raise ValueError("total only applies with ratios")
        if self.total is not None and self.total < 0:
            raise ValueError(f"total must not be negative, got {self.total}")
        self.manifest: list[dict[str, Any]] = []
        self.targets: dict[str, int] = {}

    def plan(self, sizes: dict[str, int]) -> dict[str, tuple[int, str]]:
        """Target row count per source and the reason rows below it are dropped."""
        out: dict[str, tuple[int, str]] = {}
        if self.ratios is not None:
            missing = sorted(set(sizes) - set(self.ratios))
            if missing:
                raise RecipeError(
                    f"mix: sources {', '.join(missing)} have no ratio.",
                    hint=f"list every source in ratios: {', '.join(sorted(sizes))}",
                )
            share = {k: v for k, v in self.ratios.items() if k in sizes and v > 0}
            wsum = sum(share.values())
            total = self.total
            if total is None:
                total = int(min(sizes[k] * wsum / v for k, v in share.items())) if share else 0
            quota = largest_remainder(total, share)
            out = {k: (quota.get(k, 0), "downsampled") for k in sizes}
        elif self.weights is not None:
            out = {
                k: (round(n * self.weights.get(k, 1.0)), "downsampled") for k, n in sizes.items()
            }
        else:
            counts = self.counts or {}
            out = {k: (counts.get(k, n), "downsampled") for k, n in sizes.items()}
        for k, cap in (self.caps or {}).items():
            if k in out and out[k][0] > cap:
                out[k] = (cap, "capped")
        return out

    def draw(self, source: str, n: int, target: int) -> list[int]:
        """How many times (0, 1, 2...) each of the ``n`` rows of ``source`` is output."""
        rng = random.Random(f"{self.seed}:{source}")
        times = [0] * n
        if target <= n:
            for i in rng.sample(range(n), target):
                times[i] = 1
        else:
            times = [1] * n
            for i in rng.choices(range(n), k=target - n) if n else []:
                times[i] += 1
        return times

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        sizes = Counter(source_of(s) for s in source())
        plan = self.plan(dict(sizes))
        self.targets = {k: t for k, (t, _) in plan.items()}
        times = {k: self.draw(k, sizes[k], plan[k][0]) for k in sizes}
        row = Counter[str]()
        self.manifest = []
        pos = 0
        for s in source():
            src = source_of(s)
            idx = row[src]
            row[src] += 1
            self.counters.seen += 1
            k = times[src][idx]
            entry: dict[str, Any] = {"source": src, "row": idx, "id": s.id}
            if k == 0:
                entry["output"] = f"dropped: {plan[src][1]}"
                self.manifest.append(entry)
                self.drop(reject, Reject(s, self.name, plan[src][1], plan[src][0]))
                continue
            self.manifest.append(entry | {"output": pos})
            self.counters.kept += 1
            pos += 1
            yield s
            for c in range(1, k):
                copy = Sample.from_dict(s.to_dict())
                copy.id = f"{s.id}~{c}"
                copy.meta["copy_of"] = s.id
                self.manifest.append(entry | {"id": copy.id, "output": pos, "copy_of": s.id})
                self.counters.extra["upsampled"] += 1
                pos += 1
                yield copy

    def report(self) -> dict[str, Any]:
        return {"targets": dict(self.targets), "rows": len(self.manifest)}

    def write_manifest(self, path: str | Path) -> None:
        """The manifest as JSONL, one input row (or copy) per line."""
        with open(path, "wb") as fh:
            for entry in self.manifest:
                fh.write(orjson.dumps(entry) + b"\n")
