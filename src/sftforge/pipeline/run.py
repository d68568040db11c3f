"""``run_recipe``: validate a recipe, run it with an executor, write the run folder.

The run folder holds one file per output split, ``rejects.jsonl``, ``report.json``,
``report.html`` and ``recipe.lock.yaml``; ``.work/`` holds the checkpointed chunks while the run
is in progress (removed when it succeeds). The run ends by checking that every input record is
either kept or rejected (per input; samples an operator added are counted apart) and fails
otherwise.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import xxhash

from .. import progress
from .._gc import gc_paused
from ..errors import RecipeError, SftforgeError
from ..ops.base import FINGERPRINTS, Op
from ..sample import Sample
from .executor import LocalExecutor
from .lock import write_lock
from .plan import Executor, Job, JobResult, Sampled, plan_stages
from .recipe import Recipe, load_recipe
from .report import build_report, write_report
from .sources import ReadError, read_input, write_output
from .stats_cache import default_cache_dir

__all__ = ["EXTRA_KEYS", "INPUT_KEY", "ROW_KEY", "SPLIT_KEY", "RunResult", "run_recipe"]

INPUT_KEY = "source"  # meta key: the recipe input a sample came from (what `mix` reads)
ROW_KEY = "row"  # meta key: the sample's record number within that input
SPLIT_KEY = "split"  # meta key: the split a split operator assigned
# meta keys that mark a sample an operator added: an upsampled copy (`mix`) or a generic marker;
# samples whose source is not an input (the identity set) are added ones too
EXTRA_KEYS = ("copy_of", "extra")
EXTRA = "\textra"  # the counter slot of added samples (a name no input can have)
# 2: keyed global stages (key files, dropped.jsonl); 3: locator files, metric fingerprints
_SCHEMA = "sftforge-run-3"


@dataclass
class RunResult:
    """Where a finished run put things, and its totals."""

    out_dir: Path
    outputs: dict[str, Path]
    rejects: Path
    report_json: Path
    report_html: Path
    lock: Path
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def run_recipe(
    recipe_or_path: str | Path | dict[str, Any] | Recipe,
    out_dir: str | Path,
    workers: int | None = None,
    *,
    resume: bool = True,
    executor: Executor | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run a recipe into ``out_dir``; resumes a killed run of the same recipe unless ``resume=False``."""
    start = time.perf_counter()
    recipe = load_recipe(recipe_or_path)
    ops = recipe.build_ops()
    _check_plan(recipe, ops)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hashes = {s.name: hash_file(recipe.input_path(s)) for s in recipe.inputs}
    resolved = recipe.resolved()
    fingerprint = xxhash.xxh3_128_hexdigest(orjson.dumps([_SCHEMA, resolved, hashes]))
    job = Job(
        ops=ops,
        step_specs=[(s.op, s.options) for s in recipe.steps],
        stages=plan_stages(ops),
        ingest=lambda: ingest(recipe),
        workdir=out / ".work",
        chunk_size=recipe.chunk_size,
        fingerprint=fingerprint,
        plugins=recipe.plugins,
        cache_dir=_cache_dir(recipe),
        resume=resume,
        log=log,
    )
    runner = executor or LocalExecutor(workers or recipe.workers)
    result = runner.execute(job)
    with progress.stage("write outputs"):
        outputs, kept, losses, lengths_after = _write_outputs(recipe, out, result)
    rejected, examples = _write_rejects(out / "rejects.jsonl", result, _names(recipe))
    counts = check_invariant(result, kept, rejected)
    seconds = time.perf_counter() - start
    report = build_report(
        recipe, result, counts, examples, lengths_after, losses, seconds, _workers(runner)
    )
    rj, rh = write_report(out, report)
    lock = write_lock(out / "recipe.lock.yaml", resolved, hashes, recipe.seed)
    shutil.rmtree(job.workdir, ignore_errors=True)
    return RunResult(out, outputs, out / "rejects.jsonl", rj, rh, lock, counts, seconds)


def ingest(recipe: Recipe) -> Iterator[Sample | ReadError]:
    """Every input's samples, tagged with the input's name and their record number in it
    (``meta["row"]``, 1-based, unreadable records counted too), then the next input's.

    Identical records share a content id (so an exact duplicate's ``kept_id`` can be its own id):
    the input name and row are what tell them apart, and every dedup reject names its kept twin
    by both as well, ``kept: {"source": ..., "row": ...}`` (``sftforge.ops.base.locator``).
    """
    paths = [recipe.input_path(spec) for spec in recipe.inputs]
    sizes = [p.stat().st_size if p.is_file() else 0 for p in paths]
    bar = progress.current()  # the executor's first stage: its ETA is by bytes of the inputs
    for k, (spec, path) in enumerate(zip(recipe.inputs, paths, strict=True)):
        before = sum(sizes[:k])

        def on_bytes(done: int, _size: int | None, before: int = before) -> None:
            bar.update(done=before + done, total=sum(sizes) or None)

        items = read_input(spec.name, path, spec.format, spec.on_error, spec.path, on_bytes)
        for row, item in enumerate(items, 1):
            if isinstance(item, Sample):
                item.meta[INPUT_KEY] = spec.name
                item.meta[ROW_KEY] = row
            yield item


def hash_file(path: Path) -> str:
    """xxh3-64 of a file's bytes, streamed."""
    h = xxhash.xxh3_64()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise RecipeError(
            f"cannot read input: {exc.strerror or exc}.", file=str(path), hint="check the path"
        ) from exc
    return h.hexdigest()


def _workers(runner: Any) -> int | None:
    return getattr(runner, "workers", None)


def _cache_dir(recipe: Recipe) -> Path | None:
    if recipe.cache is False:
        return None
    if isinstance(recipe.cache, str):
        p = Path(recipe.cache).expanduser()
        return p if p.is_absolute() else recipe.base_dir / p
    return default_cache_dir()


def _check_plan(recipe: Recipe, ops: list[Op]) -> None:
    """Recipe-level checks that need the built operators; all before any work."""
    splits = any(op.name == "split" or getattr(op, "assigns_split", False) for op in ops)
    if len(recipe.outputs) > 1 and not splits:
        raise RecipeError(
            f"outputs name {len(recipe.outputs)} splits ({', '.join(recipe.outputs)}) but no"
            " step assigns splits.",
            field="outputs",
            hint="add a 'split' step, or keep a single output",
        )


def _route(recipe: Recipe, sample: Sample) -> str | None:
    if len(recipe.outputs) == 1:
        return next(iter(recipe.outputs))
    split = sample.meta.get(SPLIT_KEY)
    return split if split in recipe.outputs else None


def _write_outputs(
    recipe: Recipe, out: Path, result: JobResult
) -> tuple[dict[str, Path], Counter[str], dict[str, dict[str, int]], dict[str, Sampled]]:
    """One streaming pass over the kept samples per split; counts kept per input."""
    kept: Counter[str] = Counter()
    losses: dict[str, dict[str, int]] = {}
    lengths: dict[str, Sampled] = {}
    paths: dict[str, Path] = {}
    names = _names(recipe)
    single = len(recipe.outputs) == 1
    bar = progress.current()
    for split, spec in recipe.outputs.items():
        path = out / spec.path

        def stream(split: str = split) -> Iterator[Sample]:
            pending: dict[str, list[int]] = {}  # message lengths by role, added in batches
            for n, s in enumerate(result.final(), 1):
                if not single and _route(recipe, s) != split:
                    continue
                kept[_origin(s.meta, names)] += 1
                bar.advance()
                s.meta.pop(FINGERPRINTS, None)  # bookkeeping of the metrics, not an output
                for m in s.messages:
                    pending.setdefault(m.role, []).append(len(m.content))
                if n % 4096 == 0:
                    _add_lengths(lengths, pending)
                yield s
            _add_lengths(lengths, pending)

        tmp = path.with_name(f".tmp-{path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with gc_paused():
            _, lost = write_output(stream(), tmp, spec.format, spec.allow_lossy)
        os.replace(tmp, path)
        losses[split] = lost
        paths[split] = path
    unrouted = 0 if len(recipe.outputs) == 1 else _total(result) - sum(kept.values())
    if unrouted:
        raise SftforgeError(
            f"{unrouted} samples have a split with no output (meta['{SPLIT_KEY}']).",
            hint=f"add outputs for every split the split step makes ({', '.join(recipe.outputs)} given)",
        )
    return paths, kept, losses, lengths


def _add_lengths(lengths: dict[str, Sampled], pending: dict[str, list[int]]) -> None:
    for role, values in pending.items():
        lengths.setdefault(role, Sampled()).extend(values)
    pending.clear()


def _names(recipe: Recipe) -> set[str]:
    return {s.name for s in recipe.inputs}


def _total(result: JobResult) -> int:
    last = result.stages[-1]
    return last.n_out


def _origin(meta: dict[str, Any], inputs: set[str]) -> str:
    """The input a sample is counted against; added samples are counted apart."""
    src = meta.get(INPUT_KEY)
    if any(meta.get(k) is not None for k in EXTRA_KEYS) or src not in inputs:
        return EXTRA
    return str(src)


def _write_rejects(
    path: Path, result: JobResult, names: set[str], per_reason: int = 3
) -> tuple[Counter[str], dict[str, list[dict[str, Any]]]]:
    """Concatenate the stages' rejects in order; count them per input, keep a few per reason."""
    rejected: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {}
    tmp = path.with_name(f".tmp-{path.name}")
    with tmp.open("wb") as fh:
        for row in result.rejects():
            fh.write(row + b"\n")
            rec = orjson.loads(row)
            if rec.get("op") == "read":
                rejected[str((rec.get("value") or {}).get("input"))] += 1
            else:
                rejected[_origin(rec["sample"].get("meta") or {}, names)] += 1
            ex = examples.setdefault(f"{rec.get('op')}: {rec.get('reason')}", [])
            if len(ex) < per_reason:
                ex.append(rec)
    os.replace(tmp, path)
    return rejected, examples


def check_invariant(
    result: JobResult, kept: Counter[str], rejected: Counter[str]
) -> dict[str, Any]:
    """inputs = kept + rejected, per input; added samples must equal what operators declared."""
    per_input: dict[str, dict[str, int]] = {}
    bad: list[str] = []
    for name, rc in result.read_counts.items():
        read = rc["samples"] + rc["errors"]
        row = {"read": read, "kept": kept.get(name, 0), "rejected": rejected.get(name, 0)}
        per_input[name] = row
        if read != row["kept"] + row["rejected"]:
            bad.append(f"{name}: read {read} != kept {row['kept']} + rejected {row['rejected']}")
    strays = sorted((set(kept) | set(rejected)) - set(result.read_counts) - {EXTRA})
    bad += [f"{s}: samples from an input that was never read" for s in strays]
    added = sum(s.added for s in result.stages)
    extras = kept.get(EXTRA, 0) + rejected.get(EXTRA, 0)
    if extras != added:
        bad.append(f"operators declared {added} added samples, but {extras} are marked as added")
    if bad:
        raise SftforgeError(
            "the run lost or invented samples: " + "; ".join(bad) + ".",
            hint="this is a bug in an operator (or the executor); please report it with the recipe",
        )
    return {
        "read": sum(r["read"] for r in per_input.values()),
        "kept": sum(kept.values()),
        "rejected": sum(rejected.values()),
        "added": added,
        "per_input": per_input,
    }
