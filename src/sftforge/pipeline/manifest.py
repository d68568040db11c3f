"""The checkpoint manifest of a run: which chunks of which stage are finished.

It is rewritten atomically after every finished chunk. A run is resumed only when the manifest's
fingerprint (resolved recipe + input hashes + chunk size) equals the new run's; otherwise the work
folder is started afresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .shards import atomic_write_bytes

__all__ = ["Manifest"]


class Manifest:
    """``{"fingerprint": ..., "stages": {"0": {"done": [...], "chunks": n | null}}}``."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.stages: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> Manifest | None:
        """The saved manifest when it belongs to this same run, else ``None``."""
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
            return None
        m = cls(path, fingerprint)
        m.stages = dict(data.get("stages") or {})
        return m

    def save(self) -> None:
        atomic_write_bytes(
            self.path, orjson.dumps({"fingerprint": self.fingerprint, "stages": self.stages})
        )

    def _stage(self, stage: int) -> dict[str, Any]:
        return self.stages.setdefault(str(stage), {"done": [], "chunks": None})

    def done(self, stage: int) -> set[int]:
        return set(self._stage(stage)["done"])

    def mark_chunk(self, stage: int, index: int) -> None:
        st = self._stage(stage)
        st["done"].append(index)
        self.save()

    def complete(self, stage: int) -> int | None:
        """Chunks the finished stage produced, or ``None`` while it is unfinished."""
        chunks = self._stage(stage)["chunks"]
        return None if chunks is None else int(chunks)

    def mark_complete(self, stage: int, chunks: int) -> None:
        self._stage(stage)["chunks"] = chunks
        self.save()

    def chunks_done(self) -> int:
        return sum(len(st["done"]) for st in self.stages.values())
