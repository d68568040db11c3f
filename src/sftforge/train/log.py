"""The training log: one JSON object per line, flushed as it is written so it can be read while
the run goes on.

Keys: ``step``, ``epoch``, ``loss``, ``lr``, ``grad_norm``, ``tokens_per_s``, ``memory_mb`` (peak
GPU memory allocated on CUDA, peak resident memory of the process on CPU), and ``eval_loss`` on
the steps where the validation split was scored. A hand-over run (``handoff.py``) writes the same
keys from the trainer's own log (missing ones are left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["LOG_KEYS", "TrainLog", "read_log"]

LOG_KEYS = ("step", "epoch", "loss", "eval_loss", "lr", "grad_norm", "tokens_per_s", "memory_mb")


class TrainLog:
    """Appends records to ``path``; ``truncate_after(step)`` drops what a killed run logged after
    the checkpoint it resumes from, so the log reads as one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def truncate_after(self, step: int) -> None:
        kept = [r for r in read_log(self.path) if int(r.get("step", 0)) <= step]
        self.path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in kept))

    def reset(self) -> None:
        self.path.write_bytes(b"")

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: record[k] for k in LOG_KEYS if record.get(k) is not None}
        with open(self.path, "ab") as fh:
            fh.write(orjson.dumps(clean) + b"\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a log; a last line cut short by a kill is skipped."""
    return list(_records(path))


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    for line in path.read_bytes().splitlines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            yield obj
