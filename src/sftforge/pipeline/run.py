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
from ..io.folders import is_dataset_ref, resolve_dataset
from ..io.paths import link_escape
from ..io.rejects import nothing_kept
from ..io.remote import is_url, shown, upload
from ..io.sources import open_raw
from ..ops.base import FINGERPRINTS, Op
from ..oserrors import os_error
from ..sample import Sample
from .executor import LocalExecutor
from .lock import write_lock
from .outplan import (
    LOCK_NAME,
    REJECTS_NAME,
    OutputPlan,
    clear_leftovers,
    plan_outputs,
    previous_files,
    remove_stale,
    staged,
)
from .plan import Executor, Job, JobResult, Sampled, plan_stages
from .recipe import EXECUTORS, Recipe, load_recipe
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
    stall_timeout: float | None = None,
    allow_outside: bool = False,
    follow_symlinks: bool = False,
    engine: str | None = None,
    address: str | None = None,
) -> RunResult:
    """Run a recipe into ``out_dir``; resumes a killed run of the same recipe unless ``resume=False``.

    ``engine``: ``local`` (the process pool) or ``ray`` (``RayExecutor``, on the cluster at
    ``address``: ``auto``, ``ray://host:port``, or none to start Ray here); default: the
    recipe's ``executor:``. An ``address`` alone means ``ray``. The outputs are the same.

    ``stall_timeout``: seconds the workers may go without finishing a chunk (``LocalExecutor``).
    ``allow_outside``: let the recipe's outputs and ``cache:`` lie outside the run folder.
    ``follow_symlinks``: read an input that is a symlink to a file outside its own folder.
    A system failure (disk full, permission denied...) is an ``SftforgeError`` naming the path;
    the finished chunks are kept, so the same call resumes."""
    try:
        return _run(
            recipe_or_path, out_dir, workers, resume, executor, log, stall_timeout,
            allow_outside, follow_symlinks, engine, address,
        )  # fmt: skip
    except OSError as exc:
        raise os_error(exc, str(out_dir), resume=True) from exc


def _run(
    recipe_or_path: str | Path | dict[str, Any] | Recipe,
    out_dir: str | Path,
    workers: int | None,
    resume: bool,
    executor: Executor | None,
    log: Callable[[str], None] | None,
    stall_timeout: float | None,
    allow_outside: bool,
    follow_symlinks: bool,
    engine: str | None = None,
    address: str | None = None,
) -> RunResult:
    start = time.perf_counter()
    if workers is not None and (type(workers) is not int or workers < 1):
        raise RecipeError(
            f"workers must be an integer >= 1, got {workers!r}.",
            field="workers",
            hint="pass workers=N with N >= 1, or leave it out for one per core",
        )
    recipe = load_recipe(recipe_or_path)
    ops = recipe.build_ops()
    _check_plan(recipe, ops)
    if not follow_symlinks:
        _check_links(recipe)
    out = Path(out_dir)
    plan = plan_outputs(recipe, out, _cache_dir(recipe), allow_outside=allow_outside)
    out.mkdir(parents=True, exist_ok=True)
    clear_leftovers(plan)
    previous = previous_files(plan)
    hashes = {s.name: _hash_files(recipe.input_files(s)) for s in recipe.inputs}
    resolved = recipe.resolved()
    fingerprint = xxhash.xxh3_128_hexdigest(orjson.dumps([_SCHEMA, resolved, hashes]))
    job = Job(
        ops=ops,
        step_specs=[(s.op, s.options) for s in recipe.steps],
        stages=plan_stages(ops),
        ingest=lambda: ingest(recipe, log),
        workdir=out / ".work",
        chunk_size=recipe.chunk_size,
        fingerprint=fingerprint,
        plugins=recipe.plugins,
        cache_dir=_cache_dir(recipe),
        resume=resume,
        log=log,
    )
    runner = executor or _executor(recipe, engine, address, workers, stall_timeout)
    result = runner.execute(job)
    rejects = out / REJECTS_NAME
    # every output and the rejects are written beside their place first, then all renamed
    # together: a run that fails here (disk full...) leaves the earlier files, no part of new ones
    try:
        with progress.stage("write outputs"):
            outputs, kept, losses, lengths_after = _write_outputs(recipe, plan, result)
        rejected, examples, failed = _write_rejects(staged(rejects), result, _names(recipe))
        counts = check_invariant(result, kept, rejected)
    except BaseException:
        for path in [*plan.outputs.values(), rejects]:
            staged(path).unlink(missing_ok=True)
        raise
    for path in [*outputs.values(), rejects]:
        os.replace(staged(path), path)
    for split, spec in recipe.outputs.items():
        if spec.upload is not None:  # only once every output is complete and in place
            upload(str(outputs[split]), spec.upload)
            if log is not None:
                log(f"{split}: uploaded to {shown(spec.upload)}")
    seconds = time.perf_counter() - start
    report = build_report(
        recipe, result, counts, examples, lengths_after, losses, seconds, _workers(runner)
    )
    rj, rh = write_report(out, report)
    manifests = [out / m for st in result.stages if (m := st.op_report.get("manifest"))]
    files = [os.path.relpath(p, out) for p in [*plan.files, *manifests]]
    lock = write_lock(out / LOCK_NAME, resolved, hashes, recipe.seed, files)
    remove_stale(plan, previous, manifests)
    shutil.rmtree(job.workdir, ignore_errors=True)
    _check_inputs_kept(recipe, counts, failed, rejects)
    return RunResult(out, outputs, rejects, rj, rh, lock, counts, seconds)


def _check_inputs_kept(
    recipe: Recipe, counts: dict[str, Any], failed: dict[str, _Failed], rejects: Path
) -> None:
    """Fail the run (its folder written) when an input kept none of its records because reading
    or templating failed every one: a wrong ``format:``, mapping or template, not a result."""
    for spec in recipe.inputs:
        row = counts["per_input"].get(spec.name)
        fail = failed.get(spec.name)
        if not row or not row["read"] or fail is None or fail.count != row["read"]:
            continue
        raise nothing_kept(
            f"input '{spec.name}' ({spec.path})", row["read"], dict(fail.kinds),
            spec.format, first=fail.first, rejects=str(rejects), recipe=True,
        )  # fmt: skip


@dataclass
class _Failed:
    """One input's records that reading or templating failed: how many, of which kinds, the first."""

    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    first: str | None = None

    def add(self, kind: str, reason: str) -> None:
        self.count += 1
        self.kinds[kind] += 1
        if self.first is None:
            self.first = reason


def ingest(
    recipe: Recipe, log: Callable[[str], None] | None = None
) -> Iterator[Sample | ReadError]:
    """Every input's samples, tagged with the input's name and their record number in it
    (``meta["row"]``, 1-based, unreadable records counted too), then the next input's.

    Identical records share a content id (so an exact duplicate's ``kept_id`` can be its own id):
    the input name and row are what tell them apart, and every dedup reject names its kept twin
    by both as well, ``kept: {"source": ..., "row": ...}`` (``sftforge.ops.base.locator``).
    ``log`` gets a warning line per stray comma in a JSON array input (not a record).
    """
    paths = [recipe.input_path(spec) for spec in recipe.inputs]
    # records without an answer are read as prompts only where a step answers them: elsewhere
    # they would be written as training rows with no answer
    prompts = any(step.op == "respond" for step in recipe.steps)
    sizes = [p.stat().st_size if isinstance(p, Path) and p.is_file() else 0 for p in paths]
    bar = progress.current()  # the executor's first stage: its ETA is by bytes of the inputs
    for k, (spec, path) in enumerate(zip(recipe.inputs, paths, strict=True)):
        before = sum(sizes[:k])

        def on_bytes(done: int, _size: int | None, before: int = before) -> None:
            bar.update(done=before + done, total=sum(sizes) or None)

        fmt = recipe.input_format(spec)
        items = read_input(
            spec.name, path, fmt, spec.on_error, spec.path, spec.columns, log, on_bytes, prompts
        )
        for row, item in enumerate(items, 1):
            if isinstance(item, Sample):
                item.meta[INPUT_KEY] = spec.name
                item.meta[ROW_KEY] = row
            yield item


def _hash_files(paths: list[Path | str]) -> str:
    """One input's hash as ``hash_input``; several files' hashes hashed together, in order."""
    if len(paths) == 1:
        return hash_input(paths[0])
    return xxhash.xxh3_64_hexdigest("\n".join(hash_input(p) for p in paths).encode())


def hash_input(path: Path | str) -> str:
    """xxh3-64 of an input's bytes, streamed: a local file or a URL (the same bytes give the same
    hash wherever they are read from); a folder or hub dataset hashes its shards in order."""
    h = xxhash.xxh3_64()
    target = str(path)
    files = [str(p) for p in resolve_dataset(target).shards] if is_dataset_ref(target) else [target]
    for file in files:
        try:
            # a URL streams through sftforge.io (its errors name the masked URL); a file opens here
            raw = open_raw(file)[0] if is_url(file) else open(file, "rb")  # noqa: SIM115
            with raw:
                while block := raw.read(1 << 20):
                    h.update(block)
        except OSError as exc:
            err = os_error(exc, shown(file))
            raise RecipeError(
                f"cannot read input: {err.message}", file=err.file, hint=err.hint
            ) from exc
    return h.hexdigest()


def _executor(
    recipe: Recipe,
    engine: str | None,
    address: str | None,
    workers: int | None,
    stall_timeout: float | None,
) -> Executor:
    """The executor the caller or the recipe asks for."""
    chosen = engine or ("ray" if address else recipe.executor)
    if chosen not in EXECUTORS:
        raise RecipeError(
            f"engine must be one of {', '.join(EXECUTORS)}, got {chosen!r}.",
            hint="pass --engine local or --engine ray",
        )
    if chosen == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(
            address,
            workers=workers or recipe.workers,
            stall_timeout=stall_timeout,
            memory_budget_mb=recipe.memory_budget_mb,
        )
    if address:
        raise RecipeError(
            "--address names a Ray cluster, but the engine is 'local'.",
            hint="pass --engine ray with --address, or leave --address out",
        )
    return LocalExecutor(
        workers or recipe.workers,
        stall_timeout=stall_timeout,
        memory_budget_mb=recipe.memory_budget_mb,
    )


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
    from ..ops.identity import check_placement

    check_placement(ops, list(recipe.outputs))


def _check_links(recipe: Recipe) -> None:
    """No input follows a symlink out of its folder (its lines would go to rejects and the
    report): before anything is read."""
    for i, spec in enumerate(recipe.inputs, 1):
        path = recipe.input_path(spec)
        real = link_escape(path) if isinstance(path, Path) else None
        if real is not None:
            raise RecipeError(
                f"input '{spec.name}' ({spec.path}) is a symlink to {real}, outside its folder;"
                " inputs do not follow symlinks out of their folder.",
                file=recipe.file,
                field=f"inputs[{i}].path",
                hint="copy the file into the folder or name its real path, or pass"
                " --follow-symlinks to read it",
            )


def _route(recipe: Recipe, sample: Sample) -> str | None:
    if len(recipe.outputs) == 1:
        return next(iter(recipe.outputs))
    split = sample.meta.get(SPLIT_KEY)
    return split if split in recipe.outputs else None


def _write_outputs(
    recipe: Recipe, plan: OutputPlan, result: JobResult
) -> tuple[dict[str, Path], Counter[str], dict[str, dict[str, int]], dict[str, Sampled]]:
    """One streaming pass over the kept samples per split, each written to its ``staged`` path;
    counts kept per input."""
    kept: Counter[str] = Counter()
    losses: dict[str, dict[str, int]] = {}
    lengths: dict[str, Sampled] = {}
    paths: dict[str, Path] = {}
    names = _names(recipe)
    single = len(recipe.outputs) == 1
    bar = progress.current()
    for split, spec in recipe.outputs.items():
        path = plan.outputs[split]

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

        path.parent.mkdir(parents=True, exist_ok=True)
        with gc_paused():
            _, lost = write_output(stream(), staged(path), spec.format, spec.allow_lossy)
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
    for k in EXTRA_KEYS:  # a loop, not any(): no generator per kept sample
        if meta.get(k) is not None:
            return EXTRA
    src = meta.get(INPUT_KEY)
    return EXTRA if src not in inputs else str(src)


def _write_rejects(
    path: Path, result: JobResult, names: set[str], per_reason: int = 3
) -> tuple[Counter[str], dict[str, list[dict[str, Any]]], dict[str, _Failed]]:
    """Concatenate the stages' rejects in order; count them per input, keep a few per reason,
    and count per input the records that reading or templating failed."""
    rejected: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, _Failed] = {}
    with path.open("wb") as fh:
        for row in result.rejects():
            fh.write(row + b"\n")
            rec = orjson.loads(row)
            if rec.get("op") == "read":
                value = rec.get("value") or {}
                name = str(value.get("input"))
                rejected[name] += 1
                where = f"{value.get('file')}:{value.get('line')}: {rec.get('reason')}"
                failed.setdefault(name, _Failed()).add(str(value.get("kind") or "read"), where)
            else:
                origin = _origin(rec["sample"].get("meta") or {}, names)
                rejected[origin] += 1
                if rec.get("reason") == "template_error":
                    why = f"{rec.get('op')}: {rec.get('value')}"
                    failed.setdefault(origin, _Failed()).add("template_error", why)
            ex = examples.setdefault(f"{rec.get('op')}: {rec.get('reason')}", [])
            if len(ex) < per_reason:
                ex.append(rec)
    return rejected, examples, failed


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
