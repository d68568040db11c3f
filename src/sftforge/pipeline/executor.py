"""The local executor: chunks through a process pool, global operators in the parent.

Memory stays bounded whatever the input size: the parent holds at most ``2 × workers`` chunks in
flight, workers write their results straight to chunk files, and global operators read the
previous stage back from those files (``source``). Every finished chunk is recorded in the
manifest, so a killed run resumes where it stopped; since a chunk's bytes depend only on its
input and the operators, the outputs are the same whatever the worker count or interruptions.

Keyed global operators (dedup, see ``GlobalOp.keys``) take a faster road: the workers compute
their per-sample keys along with the stage before (or in a parallel pass over its chunks), the
parent only runs ``choose`` over the keys, then writes each output chunk from the key base's
chunk file: a hard link when nothing in it was dropped, else its kept lines copied as bytes.
Only dropped samples (and the few ``choose`` fetches) are parsed; the rejects name their kept
twins from the workers' locator files of only the chunks that hold them. Output chunk ``i`` holds
what is left of the key base's chunk ``i``, and ``dropped.jsonl`` (key base rows) tells the next
keyed stage what is left.

A worker that dies (killed, out of memory) or stalls (no chunk finished for ``stall_timeout``
seconds) fails the run with one line naming the chunk, after the other workers are killed: the
manifest keeps every finished chunk, so the same command resumes. Workers end with this process
(``sftforge._orphans``), so a killed run leaves no process behind.

Test hooks: ``SFTFORGE_TEST_KILL_AFTER_CHUNKS=k`` makes the process SIGKILL itself after it has
checkpointed ``k`` chunks, ``SFTFORGE_TEST_KILL_AFTER_STAGES=k`` after it has finished ``k``
stages (used to prove resume gives byte-identical outputs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import resource
import shutil
import signal
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import compress, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .. import progress
from .._gc import gc_paused
from ..errors import SftforgeError
from ..ops.base import (
    RAGGED,
    Drop,
    DropTable,
    Filter,
    GlobalOp,
    Keys,
    Op,
    OpCounters,
    Reject,
    ragged_select,
)
from ..ops.dedup.spill import DEFAULT_BUDGET_MB, ColumnWriter, Runs, Spill
from ..sample import Sample
from .gone_rows import GoneRows, live_rows
from .manifest import Manifest
from .plan import Job, JobResult, Sampled, Stage, StageSummary
from .shards import chunk_path, iter_shards, load_sample, write_chunk, write_jsonl
from .sources import ReadError
from .stats_cache import stage_fingerprint
from .twins import TwinTable
from .worker import (
    ChunkTask,
    StageOps,
    configure,
    init_worker,
    keys_path,
    run_task,
)

__all__ = ["ADDED_KEYS", "DEFAULT_STALL_TIMEOUT", "LocalExecutor"]

# seconds without any chunk finishing after which the workers count as stuck
# (``SFTFORGE_STALL_TIMEOUT`` or ``stall_timeout=`` change it; 0 waits without end)
DEFAULT_STALL_TIMEOUT = 3600.0

# counters.extra keys under which a global operator declares samples it added (not from inputs)
ADDED_KEYS = ("added", "upsampled", "generated")


class LocalExecutor:
    """Runs a job on this machine with ``workers`` processes (1 = in the calling process).

    ``keyed=False`` runs keyed global operators through their ``run`` (the two-pass reference
    path) instead of their keys; the outputs are the same, only slower. ``stall_timeout``:
    seconds the pool may go without finishing a chunk before the run fails (see the module).
    ``memory_budget_mb``: how much of a keyed stage's keys the parent keeps in memory; past it
    they (and the dedup's bucket tables and shingle sets) go to files in the stage's directory,
    with the same results."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        keyed: bool = True,
        stall_timeout: float | None = None,
        memory_budget_mb: float = DEFAULT_BUDGET_MB,
    ) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.memory_budget_mb = memory_budget_mb
        self.keyed = keyed
        if stall_timeout is None:
            env = os.environ.get("SFTFORGE_STALL_TIMEOUT")
            stall_timeout = float(env) if env else DEFAULT_STALL_TIMEOUT
        self.stall_timeout = stall_timeout if stall_timeout > 0 else None
        self._kill_after = int(os.environ.get("SFTFORGE_TEST_KILL_AFTER_CHUNKS") or 0)
        self._kill_after_stages = int(os.environ.get("SFTFORGE_TEST_KILL_AFTER_STAGES") or 0)
        self._finished = 0
        self._pool_ref: ProcessPoolExecutor | None = None
        self._bar: progress.Stage = progress.current()  # the running stage's progress
        self._count_chunks = False

    def execute(self, job: Job) -> JobResult:
        if not self.keyed:
            plain = [Stage(st.index, st.kind, st.steps) for st in job.stages]
            job = dataclasses.replace(job, stages=plain)
        job.workdir.mkdir(parents=True, exist_ok=True)
        mpath = job.workdir / "manifest.json"
        manifest = Manifest.load(mpath, job.fingerprint) if job.resume else None
        if manifest is None:
            for child in job.workdir.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            manifest = Manifest(mpath, job.fingerprint)
            manifest.save()
        self.manifest = manifest
        reused = _reused_metrics(job.ops)
        stage_ops = [
            StageOps(
                st.index,
                [(i, *job.step_specs[i]) for i in st.steps] if st.kind == "map" else [],
                stage_fingerprint([job.ops[i] for i in st.steps])
                if job.cache_dir and st.kind == "map"
                else "",
                [(i, *job.step_specs[i]) for i in st.key_steps],
                reused,
            )
            for st in job.stages
            if st.kind == "map" or st.key_steps
        ]
        cache = str(job.cache_dir) if job.cache_dir else None
        pool = self._pool(job, stage_ops, cache) if self._pooled() else None
        self._pool_ref = pool
        if pool is None:
            configure(stage_ops, cache)
        summaries: list[StageSummary] = []
        # the workers go once no stage needs them: their memory must not add to the parent's
        last_pooled = max(st.index for st in job.stages if _uses_pool(job, st))
        ok = False
        try:
            prev: tuple[Path, int] | None = None
            for st in job.stages:
                sdir = job.workdir / f"s{st.index:02d}"
                names = ", ".join(job.step_specs[i][0] for i in st.steps) or "read inputs"
                label = f"stage {st.index + 1}/{len(job.stages)} ({names})"
                # which stage this is, for a program watching (``progress.watch``)
                where = {"stage": st.index + 1, "stages": len(job.stages)}
                with progress.stage(label, info=where) as self._bar:
                    if st.kind == "map":
                        summary = self._map_stage(job, st, sdir, prev, pool)
                    else:
                        assert prev is not None
                        summary = self._global_stage(job, st, sdir, prev)
                summaries.append(summary)
                prev = (sdir, summary.chunks)
                if pool is not None and st.index == last_pooled:
                    pool.shutdown()
                    pool = self._pool_ref = None
                if self._kill_after_stages and st.index + 1 >= self._kill_after_stages:
                    os.kill(os.getpid(), signal.SIGKILL)
                if job.log:
                    resumed = (
                        f", {summary.resumed_chunks} resumed" if summary.resumed_chunks else ""
                    )
                    n, secs = self._bar.count, summary.seconds
                    rate = f", {n / secs:,.0f} records/s" if n and secs >= 0.05 else ""
                    job.log(
                        f"{label}: {summary.chunks} chunks{resumed}, {n:,} records,"
                        f" {secs:.1f} s{rate}"
                    )
            ok = True
        finally:
            if pool is not None:
                _stop_pool(pool, ok)
            self._pool_ref = None
        return self._result(job, summaries)

    # -- map stages ---------------------------------------------------------------------------
    def _pooled(self) -> bool:
        """Whether chunks go to a pool (``_pool``) rather than run in this process."""
        return self.workers > 1

    def _pool(self, job: Job, stage_ops: list[StageOps], cache: str | None) -> Any:
        # fork: workers start fast and need no `if __name__ == "__main__"` guard in the caller;
        # the pool forks all its workers before it starts its own thread, so the fork is safe
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        modules = sorted({type(op).__module__ for op in job.ops})
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=init_worker,
            initargs=(job.plugins, modules, stage_ops, cache, os.getpid()),
        )

    def _tasks(
        self, job: Job, st: Stage, sdir: Path, prev: tuple[Path, int] | None
    ) -> Iterator[ChunkTask]:
        if prev is not None:
            pdir, n = prev
            for i in range(n):
                yield ChunkTask(st.index, i, str(sdir), source=str(chunk_path(pdir, i)))
            return
        buf: list[bytes] = []
        errs: list[ReadError] = []
        index = 0
        for item in job.ingest():
            if isinstance(item, ReadError):
                errs.append(item)
                continue
            buf.append(item.to_json())
            if len(buf) >= job.chunk_size:
                yield ChunkTask(st.index, index, str(sdir), b"\n".join(buf), None, errs, True)
                buf, errs, index = [], [], index + 1
        if buf or errs:
            yield ChunkTask(st.index, index, str(sdir), b"\n".join(buf), None, errs, True)

    def _map_stage(
        self,
        job: Job,
        st: Stage,
        sdir: Path,
        prev: tuple[Path, int] | None,
        pool: ProcessPoolExecutor | None,
    ) -> StageSummary:
        start = time.perf_counter()
        sdir.mkdir(parents=True, exist_ok=True)
        done = self.manifest.done(st.index)
        total = self.manifest.complete(st.index)
        # the ETA counts chunks; the first stage's counts the bytes its inputs' readers report
        self._count_chunks = prev is not None
        if prev is not None:
            self._bar.expected = _stage_out(*prev)  # the records it will count, in all
            self._bar.update(total=prev[1], done=len(done))
        if total is None:
            total = self._run_chunks(job, st, sdir, prev, pool, done)
            self.manifest.mark_complete(st.index, total)
        summary = StageSummary(st.index, "map", st.steps, chunks=total, resumed_chunks=len(done))
        summary.seconds = time.perf_counter() - start
        return summary

    def _run_chunks(
        self,
        job: Job,
        st: Stage,
        sdir: Path,
        prev: tuple[Path, int] | None,
        pool: ProcessPoolExecutor | None,
        done: set[int],
    ) -> int:
        """Run the map stage's chunks not in ``done``, checkpointing each; returns how many
        chunks the stage has."""
        inflight: dict[Future[dict[str, Any]], int] = {}
        total = 0
        for task in self._tasks(job, st, sdir, prev):
            total += 1
            if task.index in done:
                continue
            if pool is None:
                self._chunk_done(st.index, task.index, run_task(task))
                continue
            while len(inflight) >= 2 * self.workers:
                self._drain(inflight, st.index, FIRST_COMPLETED)
            try:
                inflight[pool.submit(run_task, task)] = task.index
            except BrokenProcessPool:  # a worker died since the last drain
                raise _broken(st.index, [*inflight.values(), task.index]) from None
        while inflight:
            self._drain(inflight, st.index, FIRST_COMPLETED)
        return total

    def _drain(self, inflight: dict[Future[dict[str, Any]], int], stage: int, how: str) -> None:
        finished = self._wait(inflight, stage, how)
        for fut in finished:
            # re-raises a worker's error here, in the parent; else the chunk's summary
            summary = _result(fut, stage, inflight)
            self._chunk_done(stage, inflight.pop(fut), summary)

    def _wait(
        self, inflight: dict[Future[dict[str, Any]], int], stage: int, how: str
    ) -> set[Future[dict[str, Any]]]:
        """The finished futures; a pool that finishes none for ``stall_timeout`` seconds is
        stuck, and the run fails naming the chunks it was running (they are not checkpointed,
        so the same command runs them again)."""
        finished, _ = wait(list(inflight), timeout=self.stall_timeout, return_when=how)
        if not finished:
            raise self._stalled(stage, list(inflight.values()))
        return finished

    def _stalled(self, stage: int, chunks: list[int]) -> SftforgeError:
        shown = ", ".join(str(i) for i in sorted(chunks)[:5])
        return SftforgeError(
            f"the worker processes finished no chunk in {self.stall_timeout:g} s"
            f" (stage {stage + 1}, chunks {shown} in progress); they were stopped.",
            hint="run the same command again to resume; if a chunk really takes this long,"
            " raise --stall-timeout (or SFTFORGE_STALL_TIMEOUT), or lower chunk_size",
        )

    def _chunk_done(self, stage: int, index: int, summary: dict[str, Any]) -> None:
        # a worker reports its progress to the parent in the summary it returns: the records
        # the chunk held (read errors included) move this stage's bar
        self._bar.advance(int(summary.get("in", 0)) + int(summary.get("read_errors", 0)))
        if self._count_chunks:
            self._bar.update(done=(self._bar.done or 0) + 1)
        self.manifest.mark_chunk(stage, index)
        self._finished += 1
        if self._kill_after and self._finished >= self._kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    # -- global stages ------------------------------------------------------------------------
    def _global_stage(
        self, job: Job, st: Stage, sdir: Path, prev: tuple[Path, int]
    ) -> StageSummary:
        op = job.ops[st.steps[0]]
        assert isinstance(op, GlobalOp)
        summary = StageSummary(st.index, "global", st.steps)
        done = self.manifest.complete(st.index)
        if done is not None:
            summary.chunks = done
            return summary
        start = time.perf_counter()
        shutil.rmtree(sdir, ignore_errors=True)  # a half-run global stage starts over
        sdir.mkdir(parents=True)
        pdir, pchunks = prev
        reasons: Counter[str] = Counter()
        clusters: Counter[tuple[Any, ...]] = Counter()
        op.counters = OpCounters()
        n_in = _stage_out(pdir, pchunks)
        self._bar.update(total=n_in)
        with (sdir / "rejects.jsonl").open("wb") as rf, gc_paused():

            def reject(r: Reject, count_cluster: bool = True) -> None:
                reasons[r.reason] += 1
                if count_cluster and r.kept_id is not None:
                    # the locator too: identical twins share a content id
                    twin = (r.kept_id, *(r.kept or {}).values())
                    clusters[twin] += 1
                rf.write(orjson.dumps(r.to_dict()) + b"\n")

            if st.key_base is not None:
                n_out, index, sizes = self._keyed_stage(job, st, op, sdir, reject)
            else:
                buf: list[Sample] = []
                n_out = index = 0
                sizes = Counter()
                for s in op.run(lambda: iter_shards(pdir, pchunks), reject):
                    buf.append(s)
                    n_out += 1
                    self._bar.advance()
                    if len(buf) >= job.chunk_size:
                        write_chunk(sdir, index, buf)
                        buf, index = [], index + 1
                if buf:
                    write_chunk(sdir, index, buf)
                    index += 1
        self._bar.update(count=n_in)  # every input record went through the operator
        c = op.counters
        c.seen, c.kept, c.dropped = n_in, n_out, reasons
        c.seconds = time.perf_counter() - start
        added = sum(int(c.extra.get(k, 0)) for k in ADDED_KEYS)
        stats = {
            "counters": c.to_dict(),
            "in": n_in,
            "out": n_out,
            "rejected": sum(reasons.values()),
            "added": added,
            # the keyed stages count theirs by twin row (``TwinTable.cluster_sizes``)
            "cluster_sizes": dict(Counter(n + 1 for n in clusters.values()) + sizes),
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "seconds": c.seconds,
        }
        stats |= _op_extras(op, job.workdir.parent, st.steps[0])
        (sdir / "summary.json").write_bytes(
            orjson.dumps(stats, option=orjson.OPT_NON_STR_KEYS, default=str)
        )
        self.manifest.mark_complete(st.index, index)
        summary.chunks, summary.seconds = index, c.seconds
        return summary

    def _keyed_stage(
        self,
        job: Job,
        st: Stage,
        op: GlobalOp,
        sdir: Path,
        reject: Callable[..., None],
    ) -> tuple[int, int, Counter[int]]:
        """A keyed global stage: ``choose`` over the workers' keys, kept lines copied as bytes.

        Returns (samples out, chunks out, cluster sizes not counted by ``reject``)."""
        assert st.key_base is not None
        base = job.stages[st.key_base]
        bdir = job.workdir / f"s{base.index:02d}"
        nb = self.manifest.complete(base.index) or 0
        if base.kind == "global" and st.index == base.index + 1:
            self._keys_pass(base, bdir, nb)
        spill = Spill(max(1, int(self.memory_budget_mb * (1 << 20))), sdir / "spill")
        op.spill = spill  # type: ignore[attr-defined]  # where a dedup puts what passes the budget
        keys, offsets, n = _load_keys(job, st, op, bdir, nb, spill)
        rows: list[np.ndarray] = []  # input position -> key base row, built if ``fetch`` asks

        def fetch(idx: Sequence[int]) -> Iterator[Sample]:
            if not rows:
                with _gone_rows(job, st) as gone:
                    live = [live_rows(lo, hi, gone.upto(hi)) for lo, hi in _spans(offsets)]
                rows.append(np.concatenate(live) if live else np.zeros(0, dtype=np.int64))
            return _fetch(bdir, offsets, rows[0][list(idx)].tolist())

        drops = op.choose(keys, fetch)
        del keys
        rows.clear()  # what fetch built, if it did
        return self._write_keyed(
            op, sdir, bdir, offsets, lambda: _gone_rows(job, st), n, drops, reject, spill
        )

    @staticmethod
    def _write_keyed(
        op: GlobalOp,
        sdir: Path,
        bdir: Path,
        offsets: list[int],
        gone: Callable[[], GoneRows],
        n: int,
        drops: Sequence[Drop],
        reject: Callable[..., None],
        spill: Spill,
        by_row: bool = False,
    ) -> tuple[int, int, Counter[int]]:
        """A keyed stage's outputs from its drops (positions among the ``n`` key base rows
        that reached it, those not in ``gone()``; ``by_row``: key base rows themselves):
        output chunk ``i`` is what is left of key base chunk ``i`` (a hard link when nothing in
        it was dropped), the rejects name their kept twins from the key base's locator files
        (through a ``TwinTable`` on disk), ``dropped.jsonl`` lists the dropped key base rows.
        A ``DropTable``'s cluster sizes are counted here, by twin identity (numpy), not by
        ``reject``. Everything is read a chunk or a block at a time: the drops, the rows
        earlier stages dropped, the twins (counted in sorted runs, then looked up on disk).

        Returns (samples out, chunks out, cluster sizes counted here)."""
        table = isinstance(drops, DropTable)  # no drop names its own kept id
        twins = TwinTable(
            bdir,
            offsets,
            _twin_blocks(op, offsets, gone, n, drops, spill, by_row),
            spill,
            spill.budget // 8,
        )
        sizes = twins.cluster_sizes() if table else Counter()
        cursor = _DropCursor(drops)
        n_out = 0
        p0 = 0  # positions before the chunk
        dropped = sdir / "dropped.jsonl"
        tmp = dropped.with_name(f".{dropped.name}.tmp{os.getpid()}")
        with gone() as gone_rows, tmp.open("wb") as dropped_fh:
            for i, (lo, hi) in enumerate(_spans(offsets)):
                src, dst = chunk_path(bdir, i), chunk_path(sdir, i)
                g = gone_rows.upto(hi)
                live = live_rows(lo, hi, g)
                p1 = hi if by_row else p0 + len(live)
                first, pos, reason, value, kept = cursor.upto(p1)
                drop_rows = pos if by_row else live[pos - p0]
                p0 = p1
                n_out += len(live) - len(pos)
                if not len(pos) and not len(g):
                    _link_or_copy(src, dst)
                    continue
                keep = np.zeros(hi - lo, dtype=bool)
                keep[live - lo] = True
                keep[drop_rows - lo] = False
                lines = src.read_bytes().split(b"\n")[: hi - lo]  # the file ends with a newline
                write_jsonl(dst, compress(lines, keep.tolist()))
                for k, row in enumerate(drop_rows.tolist()):
                    s = load_sample(lines[row - lo])
                    twin = int(kept[k])
                    loc = kept_id = None
                    if twin >= 0:
                        loc, kept_id = twins.get(twin)
                    if table:
                        name, val = drops.reasons[int(reason[k])], float(value[k])  # type: ignore[attr-defined]
                    else:
                        d = drops[first + k]
                        name, val = d.reason, d.value
                        kept_id = d.kept_id if d.kept_id is not None else kept_id
                    reject(Reject(s, op.name, name, val, kept_id, loc), not table)
                for line in _row_lines(drop_rows):
                    dropped_fh.write(line + b"\n")
        os.replace(tmp, dropped)
        twins.close()
        shutil.rmtree(sdir / "spill", ignore_errors=True)
        return n_out, len(offsets) - 1, sizes

    def _keys_pass(self, st: Stage, sdir: Path, chunks: int) -> None:
        """Keys of a finished global stage's chunks, for the keyed stages after it (workers)."""
        tasks = [
            ChunkTask(st.index, i, str(sdir), source=str(chunk_path(sdir, i)), keys_only=True)
            for i in range(chunks)
        ]
        pool = self._pool_ref
        if pool is None:
            for task in tasks:
                run_task(task)
            return
        try:
            inflight = {pool.submit(run_task, t): t.index for t in tasks}
        except BrokenProcessPool:
            raise _broken(st.index, [t.index for t in tasks]) from None
        while inflight:
            for fut in self._wait(inflight, st.index, FIRST_COMPLETED):
                _result(fut, st.index, inflight)
                del inflight[fut]

    # -- results ------------------------------------------------------------------------------
    def _result(self, job: Job, summaries: list[StageSummary]) -> JobResult:
        counters = [OpCounters() for _ in job.ops]
        metrics: dict[str, Sampled] = {}
        lengths: dict[str, Sampled] = {}
        reads: dict[str, dict[str, int]] = {}
        prev_out = 0
        for summary in summaries:
            sdir = job.workdir / f"s{summary.index:02d}"
            if summary.kind == "map":
                self._fold_map(sdir, summary, counters, metrics, lengths, reads)
            else:
                summary.n_in = prev_out
                self._fold_global(sdir, summary, counters)
            prev_out = summary.n_out
            expect = summary.n_in - summary.rejected + summary.added
            if summary.n_out != expect:
                name = ", ".join(job.step_specs[i][0] for i in summary.steps) or "read"
                raise SftforgeError(
                    f"operator '{name}' took {summary.n_in} samples, dropped {summary.rejected}"
                    f" and declared {summary.added} added, but yielded {summary.n_out}.",
                    hint="a global operator must report every drop and count what it adds"
                    f" in counters.extra ({', '.join(ADDED_KEYS)})",
                )
        last = job.workdir / f"s{summaries[-1].index:02d}"
        nlast = summaries[-1].chunks
        return JobResult(
            final=lambda: iter_shards(last, nlast),
            rejects=lambda: self._iter_rejects(job.workdir, summaries),
            stages=summaries,
            step_counters=[c.to_dict() for c in counters],
            metrics=metrics,
            lengths_before=lengths,
            read_counts=reads,
        )

    @staticmethod
    def _fold_map(
        sdir: Path,
        summary: StageSummary,
        counters: list[OpCounters],
        metrics: dict[str, Sampled],
        lengths: dict[str, Sampled],
        reads: dict[str, dict[str, int]],
    ) -> None:
        for i in range(summary.chunks):
            data = orjson.loads(chunk_path(sdir, i, "json").read_bytes())
            summary.n_in += data["in"] + data["read_errors"]
            summary.n_out += data["out"]
            summary.rejected += data["rejected"]
            summary.peak_rss_kb = max(summary.peak_rss_kb, data["peak_rss_kb"])
            for step, c in data["counters"].items():
                counters[int(step)].merge(_counters(c))
            for key, values in data["metrics"].items():
                metrics.setdefault(key, Sampled()).extend(values)
            for role, values in (data.get("lengths_before") or {}).items():
                lengths.setdefault(role, Sampled()).extend(values)
            for key, n in (data.get("inputs") or {}).items():
                name, _, kind = key.partition("\t")
                entry = reads.setdefault(name, {"samples": 0, "errors": 0})
                entry["errors" if kind else "samples"] += n

    @staticmethod
    def _fold_global(sdir: Path, summary: StageSummary, counters: list[OpCounters]) -> None:
        data = orjson.loads((sdir / "summary.json").read_bytes())
        counters[summary.steps[0]].merge(_counters(data["counters"]))
        summary.n_out, summary.rejected = data["out"], data["rejected"]
        summary.added, summary.seconds = data["added"], data["seconds"]
        summary.peak_rss_kb = data["peak_rss_kb"]
        summary.cluster_sizes = {int(k): v for k, v in data["cluster_sizes"].items()}
        summary.op_report = {k: data[k] for k in ("report", "manifest") if k in data}

    @staticmethod
    def _iter_rejects(workdir: Path, summaries: list[StageSummary]) -> Iterator[bytes]:
        for summary in summaries:
            sdir = workdir / f"s{summary.index:02d}"
            if summary.kind == "map":
                paths = [chunk_path(sdir, i, "rej.jsonl") for i in range(summary.chunks)]
            else:
                paths = [sdir / "rejects.jsonl"]
            for p in paths:
                with p.open("rb") as fh:
                    for line in fh:
                        if line.strip():
                            yield line.rstrip(b"\n")


def _result(
    fut: Future[dict[str, Any]], stage: int, inflight: dict[Future[dict[str, Any]], int]
) -> dict[str, Any]:
    """A chunk's summary, or its worker's error; a worker that died is one line, not a trace."""
    try:
        return fut.result()
    except BrokenProcessPool:
        raise _broken(stage, list(inflight.values())) from None


def _broken(stage: int, chunks: list[int]) -> SftforgeError:
    # the pool fails every chunk in flight alike: which one's worker died is not known
    shown = ", ".join(str(i) for i in sorted(chunks)[:5]) + (", ..." if len(chunks) > 5 else "")
    return SftforgeError(
        f"a worker process ended abruptly (killed, or out of memory) in stage {stage + 1}, with"
        f" chunks {shown} in progress; the other workers were stopped.",
        hint="run the same command again to resume from the finished chunks; if it happens"
        " again, use fewer --workers or a smaller chunk_size",
    )


def _stop_pool(pool: ProcessPoolExecutor, ok: bool) -> None:
    """Shut the pool down; after a failure its workers are killed first, since a stuck one
    would make ``shutdown`` wait for it without end."""
    if ok:
        pool.shutdown()
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            proc.kill()
    for proc in procs:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            proc.join(5)


def _op_extras(op: GlobalOp, out_dir: Path, step: int) -> dict[str, Any]:
    """What a global operator offers beyond counters: ``report()`` and ``write_manifest(path)``."""
    extras: dict[str, Any] = {}
    report = getattr(op, "report", None)
    if callable(report):
        extras["report"] = report()
    write_manifest = getattr(op, "write_manifest", None)
    if callable(write_manifest):
        name = f"manifest-step{step + 1}-{op.name}.jsonl"
        write_manifest(out_dir / name)
        extras["manifest"] = name
    return extras


def _reused_metrics(ops: Sequence[Op]) -> frozenset[str]:
    """Metric keys that more than one filter reads (so one may find the other's value)."""
    keys = Counter(op.metric_key() for op in ops if isinstance(op, Filter))
    return frozenset(k for k, n in keys.items() if n > 1)


def _uses_pool(job: Job, st: Stage) -> bool:
    """Map stages, and the first keyed stage after a global key base (its keys pass)."""
    if st.kind == "map":
        return True
    return st.key_base == st.index - 1 and job.stages[st.key_base].kind == "global"


def _dropped_before(job: Job, st: Stage) -> np.ndarray:
    """The key base rows that the keyed stages between it and ``st`` dropped (ascending)."""
    assert st.key_base is not None
    found = []
    for earlier in job.stages[st.key_base + 1 : st.index]:
        with (job.workdir / f"s{earlier.index:02d}" / "dropped.jsonl").open("rb") as fh:
            # a block of lines at a time: a bytes object per row for all of them at once
            # would cost ~45 bytes a dropped row
            while block := fh.readlines(1 << 20):
                found.append(np.array(block, dtype=np.int64))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def _gone_rows(job: Job, st: Stage) -> GoneRows:
    """The key base rows that the keyed stages between it and ``st`` dropped, as a stream."""
    assert st.key_base is not None
    paths = [
        job.workdir / f"s{earlier.index:02d}" / "dropped.jsonl"
        for earlier in job.stages[st.key_base + 1 : st.index]
    ]
    return GoneRows(paths)


def _spans(offsets: list[int]) -> Iterator[tuple[int, int]]:
    """(first row, end row) of each chunk."""
    return pairwise(offsets)


def _load_keys(
    job: Job, st: Stage, op: GlobalOp, bdir: Path, nb: int, spill: Spill
) -> tuple[Keys, list[int], int]:
    """The keys of the key base rows that reach keyed stage ``st``, read one chunk file at a
    time; numpy columns go to files, largest first, while they pass half the memory budget.

    Returns (keys, row offsets of the chunks, how many rows reach the stage)."""
    offsets = [0]
    writers: dict[str, ColumnWriter] = {}
    lists: dict[str, list[Any]] = {}
    empty = op.keys([], {})
    n = 0
    with _gone_rows(job, st) as gone:
        for i in range(nb):
            part = pickle.loads(keys_path(bdir, i, st.steps[0]).read_bytes())
            lo, hi = offsets[-1], offsets[-1] + int(part["rows"])
            offsets.append(hi)
            mask = np.ones(hi - lo, dtype=bool)
            mask[gone.upto(hi) - lo] = False
            whole = bool(mask.all())
            n += int(mask.sum())
            for name, col in part["keys"].items():
                if isinstance(col, np.ndarray):
                    if name not in writers:
                        writers[name] = ColumnWriter(spill, f"key-{name}", spill.budget)
                    if not whole and name.endswith(RAGGED):
                        col = ragged_select(col, part["keys"][name[: -len(RAGGED)]], mask)
                    elif not whole:
                        col = col[mask]
                    writers[name].append(col)
                else:
                    kept = (
                        col if whole else [v for v, m in zip(col, mask.tolist(), strict=True) if m]
                    )
                    lists.setdefault(name, []).extend(kept)
            del part
            # the keys may take half the budget (the rest is the operator's): past it, the
            # largest column in memory goes to its file, and so on
            while sum(w.in_memory for w in writers.values()) > spill.budget // 2:
                max(writers.values(), key=lambda w: w.in_memory).to_file()
    keys: Keys = {}
    for name, value in empty.items():
        if name in writers:
            keys[name] = writers[name].finish()
        elif isinstance(value, np.ndarray):
            keys[name] = value
        else:
            keys[name] = lists.get(name, [])
    return keys, offsets, n


def _drop_blocks(drops: Sequence[Drop]) -> Iterator[tuple[int, Any, Any, Any, Any]]:
    """(index of the first, positions, reason codes, values, kept positions) a block of drops
    at a time; a sequence of ``Drop`` that is not a ``DropTable`` (a plugin's list, in memory
    already) as one block, without reasons and values (its drops give them)."""
    if isinstance(drops, DropTable):
        return drops.blocks()
    pos, kept = _drop_columns(drops)
    return iter([(0, pos, np.zeros(len(pos), dtype=np.int8), np.zeros(len(pos)), kept)])


class _DropCursor:
    """``choose``'s drops read in ascending positions, a block at a time: ``upto(end)`` gives
    (index of the first, positions, reason codes, values, kept positions) of those before
    ``end`` not given yet. A ``DropTable`` is read through its blocks; another sequence of
    ``Drop`` (a plugin's list, in memory already) as its columns."""

    def __init__(self, drops: Sequence[Drop]) -> None:
        self.blocks = _drop_blocks(drops)
        self.cur: list[Any] | None = None

    def upto(self, end: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        got: list[tuple[Any, ...]] = []
        first = -1
        while True:
            if self.cur is None:
                nxt = next(self.blocks, None)
                if nxt is None:
                    break
                self.cur = list(nxt)
            lo, pos = self.cur[0], self.cur[1]
            k = int(np.searchsorted(pos, end))
            if first < 0:
                first = lo
            got.append(tuple(c[:k] for c in self.cur[1:]))
            if k < len(pos):
                self.cur = [lo + k, *(c[k:] for c in self.cur[1:])]
                break
            self.cur = None
        if not got:
            z = np.zeros(0, dtype=np.int64)
            return 0, z, z, z, z
        cols = [np.concatenate(c) if len(got) > 1 else c[0] for c in zip(*got, strict=True)]
        return first, cols[0].astype(np.int64, copy=False), cols[1], cols[2], cols[3]


def _twin_blocks(
    op: GlobalOp,
    offsets: list[int],
    gone: Callable[[], GoneRows],
    n: int,
    drops: Sequence[Drop],
    spill: Spill,
    by_row: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The drops' kept twins, ascending: blocks of (positions, key base rows, drops naming
    each). The drops are checked for order on the way; their twins are counted in sorted
    runs (a twin can be anywhere), read back a window at a time and turned into key base rows
    by walking the chunks (``gone``)."""
    runs = Runs(spill, "twin-runs", spill.budget // 16, n)
    last = -1
    for _, pos, _, _, kept in _drop_blocks(drops):
        if not len(pos):
            continue
        _check_drops(op, pos, n, last)
        last = int(pos[-1])
        twins, counts = np.unique(kept[kept >= 0], return_counts=True)
        runs.add(twins, counts)
    windows = runs.windows()
    with gone() as gone_rows:
        spans = _spans(offsets)
        p0, live = 0, np.zeros(0, dtype=np.int64)
        for _, keys, (counts,) in windows:
            if not len(keys):
                continue
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            keys, counts = keys[starts], np.add.reduceat(counts, starts)
            if by_row:
                yield keys, keys, counts
                continue
            rows = np.empty(len(keys), dtype=np.int64)
            k = 0
            while k < len(keys):  # the chunks' live rows, walked along the positions
                while int(keys[k]) >= p0 + len(live):
                    p0 += len(live)
                    lo, hi = next(spans)
                    live = live_rows(lo, hi, gone_rows.upto(hi))
                end = int(np.searchsorted(keys, p0 + len(live)))
                rows[k:end] = live[keys[k:end] - p0]
                k = end
            yield keys, rows, counts


def _fetch(sdir: Path, offsets: list[int], rows: Sequence[int]) -> Iterator[Sample]:
    """The samples at ascending ``rows`` of a finished stage (chunk ``i`` holds rows
    ``offsets[i]:offsets[i + 1]``), parsing only those lines."""
    chunk, lines = -1, []
    for r in rows:
        if chunk < 0 or r >= offsets[chunk + 1]:
            chunk = bisect_right(offsets, r) - 1
            lines = chunk_path(sdir, chunk).read_bytes().split(b"\n")
        yield load_sample(lines[r - offsets[chunk]])


def _row_lines(rows: np.ndarray) -> Iterator[bytes]:
    """The rows as decimal lines, converted a block at a time (not one Python int each at once)."""
    for lo in range(0, len(rows), 1 << 16):
        yield from (b"%d" % r for r in rows[lo : lo + (1 << 16)].tolist())


def _drop_columns(drops: Sequence[Drop]) -> tuple[np.ndarray, np.ndarray]:
    """(input positions, kept twins' positions or -1) of ``choose``'s drops, as arrays."""
    if isinstance(drops, DropTable):
        return drops.positions, drops.kept_positions
    n = len(drops)
    index = np.fromiter((d.index for d in drops), dtype=np.int64, count=n)
    kept = (-1 if d.kept_index is None else d.kept_index for d in drops)
    return index, np.fromiter(kept, dtype=np.int64, count=n)


def _check_drops(op: GlobalOp, index: np.ndarray, n: int, before: int = -1) -> None:
    """``index`` (a block of drops, after position ``before``) ascending, unique, below ``n``."""
    bad = np.flatnonzero(np.diff(index, prepend=before) <= 0)
    if len(index) and index[-1] >= n:
        bad = np.append(bad, len(index) - 1)
    if len(bad):
        k = int(bad.min())
        last = int(index[k - 1]) if k else before
        raise SftforgeError(
            f"operator '{op.name}' dropped input position {int(index[k])} out of order"
            f" (after {last}, of {n}).",
            hint="choose() must return drops in ascending, unique input positions",
        )


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of the (immutable) chunk file ``src``: a hard link when it can."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _stage_out(sdir: Path, chunks: int) -> int:
    """How many samples a finished stage produced (from its summaries)."""
    summary = sdir / "summary.json"
    if summary.exists():
        return int(orjson.loads(summary.read_bytes())["out"])
    return sum(
        int(orjson.loads(chunk_path(sdir, i, "json").read_bytes())["out"]) for i in range(chunks)
    )


def _counters(d: dict[str, Any]) -> OpCounters:
    return OpCounters(
        seen=d["seen"],
        kept=d["kept"],
        dropped=Counter(d["dropped"]),
        seconds=d["seconds"],
        extra=Counter(d["extra"]),
    )
