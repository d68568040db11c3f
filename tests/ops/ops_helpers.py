"""Helpers for the operator tests (a uniquely named module, not conftest, so that test files in
other areas with their own conftest never shadow it)."""

from __future__ import annotations

from typing import Any

from sftforge.ops.base import Filter, Mapper, build_op
from sftforge.sample import Message, Sample


def chat(user: str, assistant: str, system: str | None = None) -> Sample:
    msgs = [Message("system", system)] if system is not None else []
    msgs += [Message("user", user), Message("assistant", assistant)]
    return Sample(msgs)


def map_text(op_name: str, text: str, **options: Any) -> str:
    """Run a mapper on an assistant answer and return the new answer."""
    op = build_op(op_name, {"targets": "assistant", **options})
    assert isinstance(op, Mapper)
    (out,) = op.apply([chat("q", text)])
    return out.messages[-1].content


def keeps(op: Filter, sample: Sample) -> bool:
    kept, _ = op.apply([sample])
    return len(kept) == 1
