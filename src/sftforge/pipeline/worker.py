"""What a worker does with one chunk: run a stage's mappers and filters, write the chunk's files.

``process_chunk`` is a plain function of (stage ops, chunk) so it gives the same bytes in the parent
(``workers=1``) or in any pool process. The worker writes the kept samples, the rejects and a small
summary (counters, metric values, lengths) itself, each file atomically, and returns the summary;
the parent only records the chunk as done in the manifest. When keyed global operators follow
the stage (``StageOps.key_steps``), the worker also writes their keys of the kept samples, one
file per step (``c000000.k<step>.pkl``), and the samples' locators (``c000000.loc.pkl``, input name
and row, for the rejects to name their kept twins); a ``keys_only`` task writes just those, for a
chunk of a finished stage. Filters share a ``MetricMemo`` over the chunk (content fingerprints, the
cross-run cache's metrics).
"""

from __future__ import annotations

import pickle
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .._gc import gc_paused
from .._orphans import exit_with_parent
from ..errors import SftforgeError
from ..ops.base import (
    FINGERPRINTS,
    LOCATOR_KEYS,
    Filter,
    GlobalOp,
    Keys,
    Mapper,
    MetricMemo,
    Op,
    OpCounters,
    Reject,
    build_op,
    concat_keys,
)
from ..sample import Sample
from .recipe import import_plugins
from .shards import (
    atomic_write_bytes,
    chunk_path,
    iter_chunk,
    load_sample,
    write_jsonl,
)
from .sources import ReadError
from .stats_cache import StatsCache

__all__ = [
    "PLACE_ID",
    "ChunkTask",
    "StageOps",
    "init_worker",
    "keys_path",
    "places_path",
    "process_chunk",
    "run_task",
    "write_keys",
]


@dataclass(slots=True)
class StageOps:
    """A map stage as workers rebuild it: recipe step numbers and (name, options) per step."""

    stage: int
    steps: list[tuple[int, str, dict[str, Any]]]
    fingerprint: str = ""
    # keyed global operators whose keys are computed over this stage's output
    key_steps: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    # metric keys more than one filter of the recipe reads: the only metrics whose content
    # fingerprints are worth computing and keeping in the chunks (``MetricMemo.stamp``)
    reused: frozenset[str] = frozenset()
    ops: list[Op] = field(default_factory=list)
    key_ops: list[GlobalOp] = field(default_factory=list)

    def build(self) -> None:
        self.ops = [build_op(name, opts) for _, name, opts in self.steps]
        self.key_ops = []
        for _, name, opts in self.key_steps:
            op = build_op(name, opts)
            assert isinstance(op, GlobalOp)
            self.key_ops.append(op)


@dataclass(slots=True)
class ChunkTask:
    """One chunk of one stage: samples given inline (first stage) or a chunk file to read."""

    stage: int
    index: int
    out_dir: str
    payload: bytes | None = None  # canonical Sample JSON lines (cheaper to send than pickles)
    source: str | None = None
    read_errors: list[ReadError] = field(default_factory=list)
    lengths_before: bool = False
    keys_only: bool = False  # only write the stage's keys of the chunk file ``source``


KEY_SLICE = 256  # samples per ``GlobalOp.keys`` call in the workers

# per-process state set by ``init_worker`` (pool workers) or ``configure`` (in-process)
_STAGES: dict[int, StageOps] = {}
_CACHE: StatsCache | None = None


def configure(stages: Sequence[StageOps], cache_dir: str | None) -> None:
    global _CACHE
    _STAGES.clear()
    for st in stages:
        st.build()
        _STAGES[st.stage] = st
    _CACHE = StatsCache(Path(cache_dir)) if cache_dir else None


def init_worker(
    plugins: list[str],
    modules: list[str],
    stages: list[StageOps],
    cache_dir: str | None,
    parent_pid: int,
) -> None:
    """Pool initializer: import operator modules, build the ops, watch for the parent dying."""
    import importlib

    # first: a kill -9 of the parent must not leave this worker blocked on the task queue forever
    exit_with_parent(parent_pid)
    import_plugins(plugins)
    for mod in modules:
        importlib.import_module(mod)
    configure(stages, cache_dir)


def run_task(task: ChunkTask) -> dict[str, Any]:
    try:
        return process_chunk(_STAGES[task.stage], task, _CACHE)
    except SftforgeError as exc:
        # subclasses with their own __init__ (MissingDependency) do not unpickle in the parent
        raise SftforgeError(
            exc.message,
            file=exc.file,
            line=exc.line,
            column=exc.column,
            field=exc.field,
            sample_id=exc.sample_id,
            hint=exc.hint,
        ) from None


def process_chunk(stage: StageOps, task: ChunkTask, cache: StatsCache | None) -> dict[str, Any]:
    """Apply the stage to the chunk, write its files, return its summary."""
    with gc_paused():
        return _process(stage, task, cache)


def keys_path(stage_dir: Path, index: int, step: int) -> Path:
    """Where a keyed operator's keys of one chunk of ``stage_dir`` are kept."""
    return chunk_path(stage_dir, index, f"k{step}.pkl")


PLACE_ID = "\x00id"  # the samples' ids in a places file, beside the locator keys


def places_path(stage_dir: Path, index: int) -> Path:
    """Where the locators (input name, record number) of one chunk's samples are kept, for the
    keyed stages' rejects to name their kept twins (read only for the twins' chunks)."""
    return chunk_path(stage_dir, index, "loc.pkl")


def write_keys(stage: StageOps, out: Path, index: int, samples: Sequence[Sample]) -> dict[str, Any]:
    """Each keyed operator's keys of ``samples`` (one chunk), written atomically, and the
    samples' locators (``places_path``); returns the counters (seconds spent) per step. Keys are
    per sample, so they are computed over slices of ``KEY_SLICE`` samples: the same keys, with a
    fraction of the temporaries (token lists). Nothing to do when no keyed operator follows."""
    if not stage.key_ops:
        return {}
    parts: list[list[Keys]] = [[] for _ in stage.key_ops]
    seconds = [0.0] * len(stage.key_ops)
    for lo in range(0, max(len(samples), 1), KEY_SLICE):
        piece = samples[lo : lo + KEY_SLICE]
        memo: dict[Any, Any] = {}
        for k, op in enumerate(stage.key_ops):
            start = time.perf_counter()
            parts[k].append(op.keys(piece, memo))
            seconds[k] += time.perf_counter() - start
    counters: dict[str, Any] = {}
    metas = [s.meta for s in samples]
    places = {key: [m.get(key) for m in metas] for key in LOCATOR_KEYS}
    places[PLACE_ID] = [s.id for s in samples]  # names a kept twin whose op left kept_id out
    atomic_write_bytes(places_path(out, index), pickle.dumps(places, protocol=5))
    for k, (step, _, _) in enumerate(stage.key_steps):
        start = time.perf_counter()
        keys = concat_keys(parts[k])
        data = pickle.dumps({"rows": len(samples), "keys": keys}, protocol=5)
        atomic_write_bytes(keys_path(out, index, step), data)
        seconds[k] += time.perf_counter() - start
        counters[str(step)] = OpCounters(seconds=seconds[k]).to_dict()
    return counters


def _process(stage: StageOps, task: ChunkTask, cache: StatsCache | None) -> dict[str, Any]:
    if task.payload is not None:
        samples = [load_sample(line) for line in task.payload.split(b"\n") if line]
    else:
        samples = list(iter_chunk(Path(task.source or "")))
    if task.keys_only:
        key_counters = write_keys(stage, Path(task.out_dir), task.index, samples)
        return {"index": task.index, "counters": key_counters}
    summary: dict[str, Any] = {"index": task.index, "in": len(samples)}
    if task.lengths_before:  # the first stage: count what each input contributed
        per_input = Counter(str(s.meta.get("source")) for s in samples)
        per_input.update(f"{e.input}\terror" for e in task.read_errors)
        summary["inputs"] = dict(per_input)
    if task.lengths_before:
        summary["lengths_before"] = role_lengths(samples)
    memo, key = _preload_stats(stage, samples, cache)
    rejects: list[Reject] = []
    counters: dict[str, Any] = {}
    for (step, _, _), op in zip(stage.steps, stage.ops, strict=True):
        op.counters = OpCounters()
        if isinstance(op, Filter):
            samples, dropped = op.apply(samples, memo)
            rejects.extend(dropped)
        elif isinstance(op, Mapper):
            samples = op.apply(samples)
            memo.changed()  # the fingerprints are the content's before the mapper
        counters[str(step)] = op.counters.to_dict()
    if cache is not None and key:
        cache.save(key, memo.known, memo.computed)
    for s in samples:
        _sort_stats(s, stage.reused)
    for r in rejects:
        _sort_stats(r.sample, frozenset())
    out = Path(task.out_dir)
    summary["out"] = write_jsonl(chunk_path(out, task.index), (s.to_json() for s in samples))
    rows = [orjson.dumps(e.to_dict()) for e in task.read_errors]
    rows += [orjson.dumps(r.to_dict()) for r in rejects]
    summary["rejected"] = write_jsonl(chunk_path(out, task.index, "rej.jsonl"), rows)
    summary["read_errors"] = len(task.read_errors)
    counters |= write_keys(stage, out, task.index, samples)
    summary["counters"] = counters
    summary["metrics"] = _metrics(stage, samples, rejects)
    summary["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    atomic_write_bytes(chunk_path(out, task.index, "json"), orjson.dumps(summary))
    return summary


def role_lengths(samples: Sequence[Sample]) -> dict[str, list[int]]:
    """Characters per message, by role."""
    out: dict[str, list[int]] = {}
    for s in samples:
        for m in s.messages:
            out.setdefault(m.role, []).append(len(m.content))
    return out


def _preload_stats(
    stage: StageOps, samples: list[Sample], cache: StatsCache | None
) -> tuple[MetricMemo, str]:
    """The chunk's memo for its filters, with the metrics the cache has for this chunk and
    stage (by metric key and content fingerprint, so each filter finds the value of the content
    it sees), and the cache key to save the new ones under."""
    if cache is None or not stage.fingerprint or not any(isinstance(o, Filter) for o in stage.ops):
        return MetricMemo(stamp=stage.reused), ""
    key = cache.key(stage.fingerprint, samples)
    return MetricMemo(cache.load(key), stamp=stage.reused, cached=True), key


def _sort_stats(s: Sample, reused: frozenset[str]) -> None:
    # a fixed key order keeps output bytes identical whether metrics were cached or computed
    meta = s.meta
    stats = meta.get("stats")
    if isinstance(stats, dict):
        if stats:
            meta["stats"] = dict(sorted(stats.items()))
        else:
            del meta["stats"]
    fps = meta.get(FINGERPRINTS)
    if fps is not None:
        # only the fingerprints a later filter may check, of metrics still there
        kept = {k: fps[k] for k in sorted(fps) if k in reused and k in (stats or ())}
        if kept:
            meta[FINGERPRINTS] = kept
        else:
            del meta[FINGERPRINTS]


_PLAIN = frozenset({int, float, str})


def _metrics(stage: StageOps, kept: list[Sample], rejects: list[Reject]) -> dict[str, list[Any]]:
    """The metric values of this stage's filters over every sample that reached them."""
    keys = [op.metric_key() for op in stage.ops if isinstance(op, Filter)]
    samples = [*kept, *(r.sample for r in rejects)]
    all_stats = [s.meta.get("stats") or {} for s in samples]
    if len(set(keys)) == len(keys):
        # the common case, column by column: every value a plain number or string
        cols = {k: [st.get(k) for st in all_stats] for k in keys}
        if {type(v) for col in cols.values() for v in col} <= _PLAIN:  # one set, C-fast
            return {k: col for k, col in cols.items() if col}
    out: dict[str, list[Any]] = {}
    for stats in all_stats:
        for k in keys:
            v = stats.get(k)
            # a metric made of parts ({"lang": "en", "score": 0.9}) gives one series per part
            parts = {f"{k}.{sub}": sv for sub, sv in v.items()} if isinstance(v, dict) else {k: v}
            for name, pv in parts.items():
                if isinstance(pv, bool):
                    out.setdefault(name, []).append(int(pv))
                elif isinstance(pv, (int, float, str)):
                    out.setdefault(name, []).append(pv)
    return {k: v for k, v in out.items() if v}
