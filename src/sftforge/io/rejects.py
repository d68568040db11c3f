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

from ..errors import InputError, SftforgeError
from .containers import RecordWriter, open_writer
from .record import RawRecord

__all__ = ["RejectsSink", "RejectsTarget", "nothing_kept", "reject_entry"]

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


def nothing_kept(
    source: str,
    read: int,
    by_reason: dict[str, int],
    fmt: str | None,
    *,
    first: str | None = None,
    rejects: str | None = None,
    recipe: bool = False,
) -> InputError:
    """The error for an input none of whose ``read`` records could be read (or templated): a
    wrong format, column mapping or template, never data to pass on as an empty output.

    The hint names the fix for the most common reason: ``format`` (the records are not in
    ``fmt``), ``schema`` (read, but not conversations: the wrong fields were read),
    ``template_error`` (the chat template fails on them), ``profile`` (a trainer profile refused
    them all), else the container or encoding.
    ``recipe`` words the fix as recipe keys instead of command flags."""
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items(), key=lambda kv: -kv[1]))
    top = max(by_reason, key=lambda k: by_reason[k]) if by_reason else ""
    fmt_fix = "set the input's 'format:'" if recipe else "pass --from with the file's real format"
    map_fix = "map its columns ('columns:')" if recipe else "map its columns (--columns)"
    in_fmt = f"the '{fmt}' format" if fmt else "the format sftforge detected"
    if top == "format":
        hint = f"the records are not in {in_fmt}: {fmt_fix} (sftforge inspect shows what it detects), or {map_fix}"
    elif top == "schema":
        hint = f"the records were read in {in_fmt} but are not valid conversations, so the wrong fields were read: {fmt_fix}, or {map_fix}"
    elif top.startswith("template") or top.startswith("rejected:template"):
        hint = "the chat template fails on every sample: choose the template that fits the data and tokenizer (--template), or fix the data it trips on"
    elif top.startswith("profile"):
        hint = "the trainer profile refused every sample (the first problem says why): check --template and --max-len against the data, as the trainer would take it (sftforge lint shows the rendered rows)"
    else:
        hint = "fix what the first problem names (the file's container, encoding or record size) and run again"
    message = f"none of the {read} records of {source} could be used ({reasons})"
    if first:
        message += f"; the first problem: {first.rstrip('.')}"
    if rejects:
        hint += f"; every record and its reason is in {rejects}"
    return InputError(message + ".", file=None, hint=hint)


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
