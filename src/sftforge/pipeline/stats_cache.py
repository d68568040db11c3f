"""Filter metrics kept between runs, so changing a threshold re-decides without recomputing.

The cache holds, per chunk, every metric the stage's filters computed, by metric key and the
``content_fingerprint`` of the sample as the filter saw it: a filter only finds the value of the
content it sees, so two filters with the same metric key around a mapper each get their own
(``MetricMemo.known``). A chunk's file is keyed by the hash of the chunk's input (canonical
Sample JSON) and a stage fingerprint: the stage's operators with every option that can change a
metric, i.e. all options except the decision-only ones (thresholds). A filter can name its
decision options in ``decision_options``; otherwise ``min``, ``max``, ``threshold``,
``allowed``, ``min_score`` and ``max_score`` are taken as decision-only, and every other option
is assumed to change the metric (a cache miss, never a stale value).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ..ops.base import Filter, Op
from ..sample import Sample
from .shards import atomic_write_bytes

__all__ = ["DECISION_OPTIONS", "StatsCache", "default_cache_dir", "stage_fingerprint"]


def default_cache_dir() -> Path:
    env = os.environ.get("SFTFORGE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sftforge"


# options that only move a threshold; everything else is assumed to change the metric
DECISION_OPTIONS = frozenset({"min", "max", "threshold", "allowed", "min_score", "max_score"})


def _decision_only(op: Op, option: str) -> bool:
    declared = getattr(op, "decision_options", None)
    if declared is not None:
        return option in declared
    return option in DECISION_OPTIONS


def stage_fingerprint(ops: Sequence[Op]) -> str:
    """Operators up to the last filter, with the options that can change a metric."""
    last = max((i for i, op in enumerate(ops) if isinstance(op, Filter)), default=-1)
    parts = []
    for op in ops[: last + 1]:
        opts = op.options()
        if isinstance(op, Filter):
            opts = {k: v for k, v in opts.items() if not _decision_only(op, k)}
        parts.append(
            [op.name, type(op).__module__, type(op).__qualname__, repr(sorted(opts.items()))]
        )
    return xxhash.xxh3_128_hexdigest(orjson.dumps(parts)) if parts else ""


class StatsCache:
    """A folder of ``<fingerprint>/<chunk hash>.json`` files, each
    ``{metric key: [[content fingerprint...], [value...]]}``."""

    def __init__(self, root: Path) -> None:
        self.root = root / "metrics"  # ("stats" held per-sample dicts, without fingerprints)

    def key(self, fingerprint: str, samples: Sequence[Sample]) -> str:
        h = xxhash.xxh3_128()
        for s in samples:
            h.update(orjson.dumps(s.to_dict(with_meta=False)))
            h.update(b"\n")
        return f"{fingerprint}/{h.hexdigest()}"

    def load(self, key: str) -> dict[str, dict[int, Any]]:
        """The chunk's metrics: metric key -> content fingerprint -> value; empty when there
        are none (or the file is unreadable: a cache miss, never an error)."""
        try:
            data = orjson.loads((self.root / f"{key}.json").read_bytes())
            return {
                str(k): dict(zip(fps, values, strict=True)) for k, (fps, values) in data.items()
            }
        except (OSError, orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return {}

    def save(
        self, key: str, known: dict[str, dict[int, Any]], computed: dict[str, dict[int, Any]]
    ) -> None:
        """Store what was ``known`` and what was ``computed`` (by the same keys)."""
        if not computed:
            return
        merged = {k: known.get(k, {}) | computed.get(k, {}) for k in known.keys() | computed}
        data = {k: [list(m), list(m.values())] for k, m in sorted(merged.items())}
        path = self.root / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, orjson.dumps(data))
