"""Tiny operators for the pipeline tests (imported as a recipe plugin, also by pool workers)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sftforge.ops.base import (
    Drop,
    Fetch,
    Filter,
    GlobalOp,
    Keys,
    Mapper,
    Reject,
    register_op,
    select_messages,
)
from sftforge.sample import Sample

STATS_CALLS: list[str] = []  # ids seen by TMinLen.stats, to prove the stats cache works


@register_op("t_strip")
@dataclass(kw_only=True)
class TStrip(Mapper):
    suffix: str = ""

    def map(self, sample: Sample) -> Sample:
        for m in select_messages(sample, self.targets):
            m.content = m.content.strip() + self.suffix
        return sample


@register_op("t_minlen")
@dataclass(kw_only=True)
class TMinLen(Filter):
    """Drops samples whose answer is shorter than ``min_chars``."""

    min_chars: int = 1
    stats_key: ClassVar[str] = "answer_chars"
    decision_options: ClassVar[tuple[str, ...]] = ("min_chars",)

    def stats(self, sample: Sample) -> Any:
        STATS_CALLS.append(sample.id)
        return len(sample.answer_text)

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        return (True, "") if value >= self.min_chars else (False, "too_short")


@register_op("t_dedup")
@dataclass(kw_only=True)
class TDedup(GlobalOp):
    """Exact dedup on the answer, two passes (first occurrence kept)."""

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        first: dict[str, str] = {}
        for s in source():
            first.setdefault(s.answer_text, s.id)
        seen: set[str] = set()
        for s in source():
            if s.answer_text in seen:
                self.drop(reject, Reject(s, self.name, "duplicate", 1.0, first[s.answer_text]))
            else:
                seen.add(s.answer_text)
                yield s


@register_op("t_fetch_drop")
@dataclass(kw_only=True)
class TFetchDrop(GlobalOp):
    """A keyed operator that reads its samples back through ``fetch`` (every other one, by
    position) and drops those whose answer holds ``word``, as plain ``Drop``s: a kept twin by
    position for some, by id only for the others."""

    word: str = "river"

    def keys(self, samples: Sequence[Sample], memo: dict[Any, Any]) -> Keys:
        import numpy as np

        return {"turns": np.array([len(s.messages) for s in samples], dtype=np.int64)}

    def choose(self, keys: Keys, fetch: Fetch) -> list[Drop]:
        n = len(keys["turns"])
        wanted = list(range(1, n, 2))
        drops = []
        for k, (i, s) in enumerate(zip(wanted, fetch(wanted), strict=True)):
            if self.word in s.answer_text.lower():
                if k % 2:
                    drops.append(Drop(i, "has_word", self.word, None, i - 1))
                else:
                    drops.append(Drop(i, "has_word", self.word, f"not-{s.id}"))
        return drops


@register_op("t_split")
@dataclass(kw_only=True)
class TSplit(GlobalOp):
    """Every ``every``-th sample to ``test``, the rest to ``train``."""

    every: int = 3
    assigns_split: ClassVar[bool] = True

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        for i, s in enumerate(source()):
            s.meta["split"] = "test" if i % self.every == 0 else "train"
            yield s


@register_op("t_upsample")
@dataclass(kw_only=True)
class TUpsample(GlobalOp):
    """Repeats every sample once, marking the copy as added."""

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        for s in source():
            yield s
            copy = Sample.from_dict(s.to_dict())
            copy.meta["copy_of"] = s.id
            self.counters.extra["upsampled"] += 1
            yield copy


@register_op("t_liar")
@dataclass(kw_only=True)
class TLiar(GlobalOp):
    """Loses the first sample without rejecting it: the run must fail."""

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        it = source()
        next(it, None)
        yield from it


@register_op("t_needs_pkg")
@dataclass(kw_only=True)
class TNeedsPkg(Mapper):
    """Fails like an operator whose optional dependency is missing."""

    def map(self, sample: Sample) -> Sample:
        from sftforge.errors import MissingDependency

        raise MissingDependency("nopkg", "extra", "the test operator")


@register_op("t_fault")
@dataclass(kw_only=True)
class TFault(Mapper):
    """A worker fault at input row ``row``, armed by the environment (so a rerun of the same
    recipe, whose fingerprint is unchanged, runs clean): ``T_WORKER_FAULT=die`` SIGKILLs the
    worker, ``hang`` makes it sleep for an hour."""

    row: int = 5

    def map(self, sample: Sample) -> Sample:
        fault = os.environ.get("T_WORKER_FAULT")
        if fault and sample.meta.get("row") == self.row:
            if fault == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            elif fault == "hang":
                time.sleep(3600)
        return sample
