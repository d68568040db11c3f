"""The rejects sink: every record a reader could not turn into a Sample, with where and why.

One JSON line per rejected record: ``{"op": "read", "file", "line", "kind", "reason", "error",
"raw"}``; ``raw`` is the record's original text when the container kept it, else its JSON value.
The file is written atomically when closed (it is complete or absent, like every output).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Union

import orjson

from ..errors import SftforgeError
from .containers import RecordWriter, open_writer
from .record import RawRecord

__all__ = ["RejectsSink", "RejectsTarget", "reject_entry"]

RejectsTarget = Union[str, "os.PathLike[str]", Callable[[dict[str, Any]], None], None]


def reject_entry(rec: RawRecord, err: SftforgeError, kind: str) -> dict[str, Any]:
    raw = rec.raw
    if raw is None and rec.value is not None:
        raw = orjson.dumps(rec.value).decode("utf-8")
    return {
        "op": "read",
        "file": err.file or rec.source,
        "line": err.line or rec.line,
        "kind": kind,
        "reason": err.reason,
        "error": str(err),
        "raw": raw,
    }


class RejectsSink:
    """Where rejected records go: a JSONL file (opened on first use), a callback, or nowhere."""

    def __init__(self, target: RejectsTarget) -> None:
        self._target = target
        self._writer: RecordWriter | None = None
        self.count = 0

    def __call__(self, entry: dict[str, Any]) -> None:
        self.count += 1
        if self._target is None:
            return
        if callable(self._target):
            self._target(entry)
            return
        if self._writer is None:
            self._writer = open_writer(os.fspath(self._target), container="jsonl")
        self._writer.write(entry)

    def close(self, ok: bool = True) -> None:
        if self._writer is not None:
            if ok:
                self._writer.close()
            else:
                self._writer.abort()
            self._writer = None
