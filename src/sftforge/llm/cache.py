"""A SQLite cache of completions, keyed by the content of the request.

The key is the sha256 of (provider, model, parameters, messages) in canonical JSON, so a rerun
of the same job sends nothing, and a job killed half-way resumes: every finished call was
committed the moment it came back. WAL mode and a busy timeout let several processes (and the
threads of one) share the file. Values are the ``Completion`` as JSON.

For runs spread over several machines (the Ray executor) a cache also reads a ``fallback``
file, opened immutable (no locks, so it may sit on a network file system, where SQLite's WAL
does not work): a ``snapshot`` of the main cache taken by the driver. Each task writes only its
own file, and the driver folds those into the main cache with ``merge_from``: one format, one
writer per file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from .types import Completion

__all__ = ["CompletionCache", "cache_key"]


def cache_key(provider: str, model: str, params: dict[str, Any], messages: list[Any]) -> str:
    body = {"provider": provider, "model": model, "params": params, "messages": messages}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class CompletionCache:
    """``get``/``put`` completions by key in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path, *, fallback: str | Path | None = None) -> None:
        self.path = Path(path)
        self._fallback: sqlite3.Connection | None = None
        if fallback is not None and Path(fallback).exists():
            uri = Path(fallback).resolve().as_uri() + "?immutable=1"
            self._fallback = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions "
            "(key TEXT PRIMARY KEY, value BLOB NOT NULL, created REAL NOT NULL)"
        )
        self._db.commit()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM completions WHERE key=?", (key,)).fetchone()
            if row is None and self._fallback is not None:
                row = self._fallback.execute(
                    "SELECT value FROM completions WHERE key=?", (key,)
                ).fetchone()
        return Completion.from_dict(orjson.loads(row[0]), cached=True) if row else None

    def put(self, key: str, completion: Completion) -> None:
        value = orjson.dumps(completion.to_dict())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)",
                (key, value, time.time()),
            )
            self._db.commit()

    def snapshot(self, dest: str | Path) -> None:
        """A consistent copy of this cache at ``dest`` in rollback-journal mode (readable
        immutable from any machine), for the tasks of a distributed run to read."""
        dest = Path(dest)
        dest.unlink(missing_ok=True)
        copy = sqlite3.connect(str(dest))
        try:
            with self._lock:
                self._db.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.commit()
        finally:
            copy.close()

    def merge_from(self, path: str | Path) -> int:
        """Fold the completions of another cache file (a task's own) into this one; returns
        how many rows it held. Keys are content hashes, so a key in both has the same answer."""
        with self._lock:
            self._db.execute("ATTACH DATABASE ? AS part", (str(path),))
            try:
                n = int(self._db.execute("SELECT COUNT(*) FROM part.completions").fetchone()[0])
                self._db.execute(
                    "INSERT OR REPLACE INTO completions SELECT key, value, created"
                    " FROM part.completions"
                )
                self._db.commit()
            finally:
                self._db.execute("DETACH DATABASE part")
        return n

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._fallback is not None:
                self._fallback.close()
