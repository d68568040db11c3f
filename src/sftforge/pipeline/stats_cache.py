"""Filter metrics kept between runs, so changing a threshold re-decides without recomputing.

The cache holds, per chunk, the ``meta["stats"]`` dict of every sample after a map stage. It is
keyed by the hash of the chunk's input (canonical Sample JSON) and a stage fingerprint: the stage's
operators with every option that can change a metric, i.e. all options except the decision-only
ones (thresholds). A filter can name its decision options in ``decision_options``; otherwise
``min``, ``max``, ``threshold``, ``allowed``, ``min_score`` and ``max_score`` are taken as
decision-only, and every other option is assumed to change the metric (a cache miss, never a
stale value).
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
    """A folder of ``<fingerprint>/<chunk hash>.json`` files, each a list of stats dicts."""

    def __init__(self, root: Path) -> None:
        self.root = root / "stats"

    def key(self, fingerprint: str, samples: Sequence[Sample]) -> str:
        h = xxhash.xxh3_128()
        for s in samples:
            h.update(orjson.dumps(s.to_dict(with_meta=False)))
            h.update(b"\n")
        return f"{fingerprint}/{h.hexdigest()}"

    def load(self, key: str) -> list[dict[str, Any]] | None:
        try:
            data = orjson.loads((self.root / f"{key}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return data if isinstance(data, list) else None

    def save(self, key: str, stats: list[dict[str, Any]]) -> None:
        if not any(stats):
            return
        path = self.root / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, orjson.dumps(stats))
