"""The Ray executor: the local executor's run, with its chunks and dedup parts as Ray tasks.

It is the local executor (``LocalExecutor``) with its seams changed, so a recipe gives the same
bytes on a cluster as on one machine:

- the process pool is a ``RayPool``: map stages (every mapper and filter, ``tokenize``) and
  the keys passes run chunk by chunk as Ray tasks, with the same bounded window, checkpoint
  manifest, progress and stall timeout; a task whose worker is killed is run again by Ray and
  writes the same chunk files; with ``map_stages="data"`` (``SFTFORGE_RAY_MAP_STAGES=data``)
  map stages are Ray Data datasets of one chunk a row instead (``ray_data``), the same files;
- keyed global stages (``dedup_exact``, ``dedup_near``) run their ``choose`` in parts as Ray
  tasks (``ray_keyed``): exact dedup by hash partitions, near dedup by the connected
  components of the LSH bucket graph, with the operator's own verification in each part.

Every LLM step makes its calls in Ray tasks, with the run's one cache, budget and rate limits,
and a prompt that two tasks need sent once (``ray_llm``).

The other global operators (``split``, ``mix``, ``sampling``, ``identity``, semantic dedup)
run their ``GlobalOp.run`` in the driver, streaming the previous stage's chunk files, with the
same seeds; they hold what the operator itself holds (a split keeps one key per sample).

Every file (chunks, keys, shuffle parts, manifest) lives in the run folder's ``.work``: on a
cluster of several nodes the run folder must be on storage every node sees (a shared file
system); inputs may be local to the driver, URLs or S3 (the driver reads them). A killed driver
resumes from the manifest like a local run: finished stages and chunks are kept.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import SftforgeError
from ..ops.base import GlobalOp
from ..ops.dedup.spill import Spill
from .executor import LocalExecutor, _broken, _dropped_before
from .gone_rows import GoneRows
from .plan import Job, JobResult, Stage, StageSummary
from .ray_data import Stalled, WorkerLost, run_chunks
from .ray_keyed import PARTITIONED, partitioned_drops
from .ray_llm import DISTRIBUTED, PromptLedger, RayGeneration
from .ray_pool import DEFAULT_RETRIES, RayPool, WorkerSetup, connect, ray_cpus
from .shards import chunk_path
from .worker import ChunkTask, StageOps

__all__ = ["MAP_STAGES", "RayExecutor"]

# how map stages run by default (see ``RayExecutor``): plain Ray tasks; Ray Data datasets took
# 15-55 % more CPU and 0.6-1.7 GB more memory on the same chunks (BENCHMARKS.md, "Ray executor":
# 52k, 250k and 1M records, same outputs); ``data`` runs them as Ray Data datasets
MAP_STAGES = "tasks"

# environment variables the driver hands to the Ray workers (a cluster's workers do not share
# the driver's environment): where caches and tokenizers live; never credentials (uploads run
# in the driver; the LLM tasks read ``llm.api_key_env`` from the workers' own environment)
_PASSED_ENV = (
    "SFTFORGE_CACHE",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "XDG_CACHE_HOME",
)


class RayExecutor(LocalExecutor):
    """Runs a job on a Ray cluster: ``address`` ``auto`` or ``ray://host:port`` joins one,
    ``None`` starts Ray on this machine (or uses the one this process already joined).

    ``workers``: the CPUs of a Ray started here (default: all); a cluster's own count otherwise.
    ``parts``: how many parts a distributed dedup stage is cut into (default: 2 per CPU of
    the cluster); the results do not depend on it. ``retries``: how often a task whose worker
    died is run again. ``map_stages``: ``data`` runs the map stages as Ray Data datasets
    (``ray_data``), ``tasks`` as plain Ray tasks through the local executor's chunk loop;
    default ``SFTFORGE_RAY_MAP_STAGES`` or ``MAP_STAGES``. The outputs are the same."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        parts: int | None = None,
        retries: int = DEFAULT_RETRIES,
        stall_timeout: float | None = None,
        memory_budget_mb: float = 256,
        map_stages: str | None = None,
    ) -> None:
        map_stages = map_stages or os.environ.get("SFTFORGE_RAY_MAP_STAGES") or MAP_STAGES
        if map_stages not in ("data", "tasks"):
            raise SftforgeError(
                f"map_stages must be data or tasks, not {map_stages!r}",
                hint="set SFTFORGE_RAY_MAP_STAGES to data (Ray Data) or tasks (Ray tasks)",
            )
        self.map_stages = map_stages
        self.address = address
        self._started = connect(address, workers)
        super().__init__(ray_cpus(), stall_timeout=stall_timeout, memory_budget_mb=memory_budget_mb)
        self.parts = parts or 2 * self.workers
        self.retries = retries
        self._kill_marker = os.environ.get("SFTFORGE_TEST_RAY_KILL_ONCE") or None
        # the same test hook for the LLM steps' tasks only (ray_llm)
        self._llm_kill_marker = os.environ.get("SFTFORGE_TEST_RAY_KILL_LLM_ONCE") or None
        self._ray_pool: RayPool | None = None
        self._setup: WorkerSetup | None = None
        self._prompts: Any = None  # the LLM steps' PromptLedger actor

    def execute(self, job: Job) -> JobResult:
        try:
            return super().execute(job)
        finally:
            self._ray_pool = self._prompts = None
            if self._started:
                import ray

                ray.shutdown()
                self._started = False

    def _pooled(self) -> bool:
        return True  # every chunk is a Ray task, whatever the cluster's size

    def _pool(self, job: Job, stage_ops: list[StageOps], cache: str | None) -> RayPool:
        modules = sorted({type(op).__module__ for op in job.ops})
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        key = hashlib.sha256(orjson.dumps([job.fingerprint, str(job.workdir)])).hexdigest()
        setup = WorkerSetup(key, job.plugins, modules, stage_ops, cache, self._kill_marker, env)
        self._setup = setup
        self._ray_pool = RayPool(setup, self.retries)
        return self._ray_pool

    def _run_chunks(
        self,
        job: Job,
        st: Stage,
        sdir: Path,
        prev: tuple[Path, int] | None,
        pool: Any,
        done: set[int],
    ) -> int:
        if self.map_stages != "data" or self._setup is None:
            return super()._run_chunks(job, st, sdir, prev, pool, done)
        total = 0

        def todo() -> Iterator[ChunkTask]:
            nonlocal total
            for task in self._tasks(job, st, sdir, prev):
                total += 1
                if task.index not in done:
                    yield task

        try:
            run_chunks(
                self._setup, todo(), lambda i, summary: self._chunk_done(st.index, i, summary),
                cpus=self.workers, retries=self.retries, stall_timeout=self.stall_timeout,
                windowed=prev is None,
            )  # fmt: skip
        except WorkerLost as exc:
            raise _broken(st.index, exc.chunks) from None
        except Stalled as exc:
            raise self._stalled(st.index, exc.chunks) from None
        return total

    def _global_stage(
        self, job: Job, st: Stage, sdir: Path, prev: tuple[Path, int]
    ) -> StageSummary:
        from ..generate.ops import GenerateOp

        op = job.ops[st.steps[0]]
        if not isinstance(op, GenerateOp) or op.task not in DISTRIBUTED:
            return super()._global_stage(job, st, sdir, prev)
        # its own task setup (no map stages): the chunk tasks' setup is left as it is
        key = hashlib.sha256(orjson.dumps([job.fingerprint, str(job.workdir), "llm"])).hexdigest()
        modules = sorted({type(o).__module__ for o in job.ops})
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        setup = WorkerSetup(key, job.plugins, modules, [], None, self._llm_kill_marker, env)
        pool = RayPool(setup, self.retries)
        if self._prompts is None:  # one for the run: an actor is a process, slow to start
            import ray

            self._prompts = ray.remote(num_cpus=0)(PromptLedger).remote()
        folder = job.workdir / "llm-cache" / f"s{st.index:02d}"
        op.runner = RayGeneration(pool, folder, self.workers, self._prompts)
        try:
            return super()._global_stage(job, st, sdir, prev)
        finally:
            op.runner = None

    def _keyed_stage(
        self,
        job: Job,
        st: Stage,
        op: GlobalOp,
        sdir: Path,
        reject: Callable[..., None],
    ) -> tuple[int, int, Counter[int]]:
        assert st.key_base is not None
        base = job.stages[st.key_base]
        bdir = job.workdir / f"s{base.index:02d}"
        nb = self.manifest.complete(base.index) or 0
        offsets = [0, *np.cumsum([_rows(bdir, i) for i in range(nb)], dtype=np.int64).tolist()]
        if op.name not in PARTITIONED or not offsets[-1]:
            # a keyed plugin operator (the driver's ``choose``), or nothing to decide
            return super()._keyed_stage(job, st, op, sdir, reject)
        if base.kind == "global" and st.index == base.index + 1:
            self._keys_pass(base, bdir, nb)
        gone = _dropped_before(job, st)
        pool = self._ray_pool or self._pool(job, [], None)
        budget = max(1, int(self.memory_budget_mb * (1 << 20)))
        step = st.steps[0]
        drops, shuffled = partitioned_drops(
            pool, op, job.step_specs[step], step, bdir, offsets, gone, sdir / "parts",
            self.parts, budget,
        )  # fmt: skip
        if job.log:
            job.log(f"{op.name}: {self.parts} parts on Ray, {shuffled / 1e6:,.1f} MB shuffled")
        # the drops are key base rows (``by_row``) here
        return self._write_keyed(
            op, sdir, bdir, offsets, lambda: GoneRows(rows=gone), offsets[-1], drops, reject,
            Spill(budget, sdir / "spill"), by_row=True,
        )  # fmt: skip


def _rows(sdir: Path, index: int) -> int:
    """Samples in chunk ``index`` of a finished stage: its summary's count, or its lines."""
    summary = chunk_path(sdir, index, "json")
    if summary.exists():
        return int(orjson.loads(summary.read_bytes())["out"])
    with chunk_path(sdir, index).open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
