"""Fixtures for the whole-dataset operators: build samples, run a GlobalOp like an executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import sftforge.ops.global_ops  # noqa: F401 - registers the operators
from sftforge.ops.base import GlobalOp, Reject
from sftforge.sample import Message, Sample

Mk = Callable[..., Sample]
RunOp = Callable[[GlobalOp, list[Sample]], tuple[list[Sample], list[Reject]]]


def _mk(
    user: str, answer: str = "ok", *, id: str = "", system: str | None = None, **meta: Any
) -> Sample:
    msgs = [Message("system", system)] if system else []
    msgs += [Message("user", user), Message("assistant", answer)]
    return Sample(msgs, id=id, meta=dict(meta))


def _run(op: GlobalOp, samples: list[Sample]) -> tuple[list[Sample], list[Reject]]:
    """Run ``op`` over copies (the way an executor re-reads spilled shards on every pass)."""
    frozen = [s.to_json() for s in samples]
    rejects: list[Reject] = []
    out = list(op.run(lambda: (Sample.from_json(b) for b in frozen), rejects.append))
    return out, rejects


@pytest.fixture
def mk() -> Mk:
    return _mk


@pytest.fixture
def run_op() -> RunOp:
    return _run
