"""A run as the executors see it: stages of steps, the job to run and what comes back.

Consecutive mappers and filters form one *map* stage (run chunk by chunk, in parallel); each global
operator (dedup, split, mix...) is a *global* stage of its own, run over the spilled output of the
stage before it. Stage 0 is always a map stage, possibly with no steps: it reads and spills the
inputs.

A run of keyed global operators (``GlobalOp.keyed``: dedup) only drops samples, so their keys
can all be computed over the output of the stage before the run, its *key base*: fused into that
stage when it is a map stage, in a parallel pass over its chunks otherwise. ``Stage.key_base``
and ``Stage.key_steps`` record that plan. ``Executor`` is the seam the executors plug into (``LocalExecutor``, ``RayExecutor``): it gets a ``Job`` and returns a
``JobResult``; operators never see which executor runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from ..ops.base import GlobalOp, Op
from ..sample import Sample
from .sources import ReadError

__all__ = ["Executor", "Job", "JobResult", "Sampled", "Stage", "StageSummary", "plan_stages"]


@dataclass(slots=True)
class Stage:
    index: int
    kind: str  # "map" | "global"
    steps: list[int]  # positions in the recipe's step list
    # a keyed global stage: the stage whose output rows its keys are computed on (its input is
    # that output less what the keyed stages in between dropped); None otherwise
    key_base: int | None = None
    # the steps of the keyed global stages whose keys are computed over this stage's output
    key_steps: list[int] = field(default_factory=list)


def plan_stages(ops: list[Op]) -> list[Stage]:
    stages = [Stage(0, "map", [])]
    for i, op in enumerate(ops):
        if isinstance(op, GlobalOp):
            stages.append(Stage(len(stages), "global", [i]))
        elif stages[-1].kind == "map":
            stages[-1].steps.append(i)
        else:
            stages.append(Stage(len(stages), "map", [i]))
    for st in stages:
        if st.kind == "global" and cast(GlobalOp, ops[st.steps[0]]).keyed():
            prev = stages[st.index - 1]
            st.key_base = prev.key_base if prev.key_base is not None else prev.index
            stages[st.key_base].key_steps.append(st.steps[0])
    return stages


@dataclass
class Job:
    """Everything an executor needs. ``ingest`` yields the inputs' samples and read errors."""

    ops: list[Op]
    step_specs: list[tuple[str, dict[str, Any]]]
    stages: list[Stage]
    ingest: Callable[[], Iterator[Sample | ReadError]]
    workdir: Path
    chunk_size: int
    fingerprint: str
    plugins: list[str] = field(default_factory=list)
    cache_dir: Path | None = None
    resume: bool = True
    log: Callable[[str], None] | None = None  # one line per finished stage


class Sampled:
    """A bounded, deterministic subsample of a value stream (every k-th value, k doubling)."""

    def __init__(self, cap: int = 20000) -> None:
        self.cap = cap
        self.stride = 1
        self.seen = 0
        self.values: list[Any] = []

    def extend(self, values: list[Any]) -> None:
        # every stride-th value, a slice at a time, until the cap; then keep every other one
        i, n = 0, len(values)
        while i < n:
            first = i + (-self.seen) % self.stride
            # (at least one: a value is taken before the halving, as one at a time would)
            room = max(self.cap - len(self.values), 1)
            take = values[first : n : self.stride][:room]
            self.values.extend(take)
            if len(take) < room:
                self.seen += n - i
                return
            last = first + (room - 1) * self.stride  # the value that filled the cap
            self.seen += last + 1 - i
            i = last + 1
            self.values = self.values[::2]
            self.stride *= 2


@dataclass
class StageSummary:
    index: int
    kind: str
    steps: list[int]
    n_in: int = 0
    n_out: int = 0
    rejected: int = 0
    added: int = 0
    seconds: float = 0.0
    peak_rss_kb: int = 0
    chunks: int = 0
    resumed_chunks: int = 0
    cluster_sizes: dict[int, int] = field(default_factory=dict)
    op_report: dict[str, Any] = field(default_factory=dict)  # a global op's report()/manifest

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.index,
            "kind": self.kind,
            "steps": self.steps,
            "in": self.n_in,
            "out": self.n_out,
            "rejected": self.rejected,
            "added": self.added,
            "seconds": round(self.seconds, 6),
            "peak_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "chunks": self.chunks,
            "resumed_chunks": self.resumed_chunks,
        }


@dataclass
class JobResult:
    """What a finished job hands back: streams over its outputs plus what the report needs."""

    final: Callable[[], Iterator[Sample]]
    rejects: Callable[[], Iterator[bytes]]
    stages: list[StageSummary]
    step_counters: list[dict[str, Any]]
    metrics: dict[str, Sampled]
    lengths_before: dict[str, Sampled]
    # per input name: {"samples": read as samples, "errors": unreadable records}
    read_counts: dict[str, dict[str, int]]


class Executor(Protocol):
    """Runs a ``Job``; the local process-pool executor is the default implementation."""

    def execute(self, job: Job) -> JobResult: ...
