"""The Ray executor: the local executor's run, with its chunks and dedup parts as Ray tasks.

It is the local executor (``LocalExecutor``) with two seams changed, so a recipe gives the same
bytes on a cluster as on one machine:

- the process pool is a ``RayPool``: map stages (every mapper and filter, ``tokenize``, the
  LLM steps) and the keys passes run chunk by chunk as Ray tasks, with the same bounded
  window, checkpoint manifest, progress and stall timeout; a task whose worker is killed is
  run again by Ray and writes the same chunk files;
- keyed global stages (``dedup_exact``, ``dedup_near``) run their ``choose`` in parts as Ray
  tasks (``ray_keyed``): exact dedup by hash partitions, near dedup by the connected
  components of the LSH bucket graph, with the operator's own verification in each part.

The LLM steps whose items are independent (respond, judge, evol_instruct, paraphrase,
translate) make their calls in Ray tasks, with the run's one cache, budget and rate limits
(``ray_llm``); the other generate steps make them in the driver.

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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from ..ops.base import GlobalOp
from .executor import LocalExecutor, _dropped_before
from .plan import Job, JobResult, Stage, StageSummary
from .ray_keyed import PARTITIONED, partitioned_drops
from .ray_llm import DISTRIBUTED, RayGeneration
from .ray_pool import DEFAULT_RETRIES, RayPool, WorkerSetup, connect, ray_cpus
from .shards import chunk_path
from .worker import StageOps

__all__ = ["RayExecutor"]

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
    died is run again."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        parts: int | None = None,
        retries: int = DEFAULT_RETRIES,
        stall_timeout: float | None = None,
        memory_budget_mb: float = 256,
    ) -> None:
        self.address = address
        self._started = connect(address, workers)
        super().__init__(ray_cpus(), stall_timeout=stall_timeout, memory_budget_mb=memory_budget_mb)
        self.parts = parts or 2 * self.workers
        self.retries = retries
        self._kill_marker = os.environ.get("SFTFORGE_TEST_RAY_KILL_ONCE") or None
        # the same test hook for the LLM steps' tasks only (ray_llm)
        self._llm_kill_marker = os.environ.get("SFTFORGE_TEST_RAY_KILL_LLM_ONCE") or None
        self._ray_pool: RayPool | None = None

    def execute(self, job: Job) -> JobResult:
        try:
            return super().execute(job)
        finally:
            self._ray_pool = None
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
        self._ray_pool = RayPool(setup, self.retries)
        return self._ray_pool

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
        op.runner = RayGeneration(
            pool, job.workdir / "llm-cache" / f"s{st.index:02d}", self.workers
        )
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
        alive = bytearray(b"\x01") * offsets[-1]
        for r in gone.tolist():
            alive[r] = 0
        pool = self._ray_pool or self._pool(job, [], None)
        budget = max(1, int(self.memory_budget_mb * (1 << 20)))
        step = st.steps[0]
        drops, shuffled = partitioned_drops(
            pool, op, job.step_specs[step], step, bdir, offsets, gone, sdir / "parts",
            self.parts, budget,
        )  # fmt: skip
        if job.log:
            job.log(f"{op.name}: {self.parts} parts on Ray, {shuffled / 1e6:,.1f} MB shuffled")
        rows = np.arange(offsets[-1], dtype=np.int64)
        return self._write_keyed(op, sdir, bdir, offsets, alive, rows, drops, reject)


def _rows(sdir: Path, index: int) -> int:
    """Samples in chunk ``index`` of a finished stage: its summary's count, or its lines."""
    summary = chunk_path(sdir, index, "json")
    if summary.exists():
        return int(orjson.loads(summary.read_bytes())["out"])
    with chunk_path(sdir, index).open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
