"""``shuffle``, ``head`` and ``sample``: reorder or cut the dataset, seeded, nothing lost.

``shuffle`` is an exact uniform permutation with bounded memory: pass 1 counts the samples and
draws a permutation of their indices (8 bytes per sample, numpy); pass 2 writes each sample to
the temporary bucket file of its output position (``bucket_size`` positions per bucket); then the
buckets are read back in order, one at a time, sorted by position and yielded. Peak memory is the
index permutation plus one bucket of samples. Inputs no larger than one bucket skip the files.

``head`` keeps the first ``n`` samples; ``sample`` keeps ``n`` (or ``fraction`` of the) samples
drawn without replacement, in input order. Both reject the rest with the reason ``head`` /
``sample``.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from ..sample import Sample
from .base import GlobalOp, Reject, register_op

__all__ = ["Head", "RandomSample", "Shuffle"]


@register_op("shuffle")
@dataclass(kw_only=True)
class Shuffle(GlobalOp):
    """Seeded full shuffle spilled through temporary bucket files (``tmp_dir``)."""

    seed: int = 0
    bucket_size: int = 50_000
    tmp_dir: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bucket_size < 1:
            raise ValueError("bucket_size must be at least 1")

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        n = sum(1 for _ in source())
        position = np.random.default_rng(self.seed).permutation(n)  # input index -> output
        self.counters.seen += n
        self.counters.kept += n
        if n <= self.bucket_size:
            out: list[Sample | None] = [None] * n
            for i, s in enumerate(source()):
                out[int(position[i])] = s
            yield from (s for s in out if s is not None)
            return
        with tempfile.TemporaryDirectory(prefix="sftforge-shuffle-", dir=self.tmp_dir) as tmp:
            n_buckets = (n + self.bucket_size - 1) // self.bucket_size
            paths = [Path(tmp) / f"{b:06d}.jsonl" for b in range(n_buckets)]
            files = [open(p, "wb") for p in paths]  # noqa: SIM115 - closed below
            try:
                for i, s in enumerate(source()):
                    pos = int(position[i])
                    files[pos // self.bucket_size].write(orjson.dumps([pos, s.to_dict()]) + b"\n")
            finally:
                for fh in files:
                    fh.close()
            for p in paths:
                rows = [orjson.loads(line) for line in p.read_bytes().splitlines()]
                p.unlink()
                rows.sort(key=lambda r: r[0])
                yield from (Sample.from_dict(r[1]) for r in rows)


@register_op("head")
@dataclass(kw_only=True)
class Head(GlobalOp):
    """The first ``n`` samples; the rest are rejects (reason ``head``)."""

    n: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 0:
            raise ValueError(f"n must not be negative, got {self.n}")

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        for i, s in enumerate(source()):
            self.counters.seen += 1
            if i < self.n:
                self.counters.kept += 1
                yield s
            else:
                self.drop(reject, Reject(s, self.name, "head", self.n))


@register_op("sample")
@dataclass(kw_only=True)
class RandomSample(GlobalOp):
    """A seeded random subset of ``n`` samples or of ``fraction`` of them, in input order."""

    n: int | None = None
    fraction: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.n is None) == (self.fraction is None):
            raise ValueError("give exactly one of n or fraction")
        if self.n is not None and self.n < 0:
            raise ValueError(f"n must not be negative, got {self.n}")
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {self.fraction}")

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        total = sum(1 for _ in source())
        k = self.n if self.n is not None else round((self.fraction or 0.0) * total)
        chosen = set(random.Random(self.seed).sample(range(total), min(k, total)))
        for i, s in enumerate(source()):
            self.counters.seen += 1
            if i in chosen:
                self.counters.kept += 1
                yield s
            else:
                self.drop(reject, Reject(s, self.name, "sample", k))
