"""Work handed to one thread of its own, done in the order it was handed over.

A version's writing (``VersionWriter``: joining a row group's batches, Parquet with lz4, the
browse file, sha256 of the content) is C code that releases the GIL: in a thread it runs on
another core while this one makes the next rows in Python, where an import did both in turn.
One thread, one queue: the work is done in order, so the files and hashes are those made without
it. A few items wait at most (``depth``), so memory stays bounded when the rows come faster than
they are written. The first exception the work raises stops it: it is raised again by the next
``put`` or by ``close``, and what was queued after it is dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WriteBehind"]

_STOP: Any = object()


class WriteBehind:
    """``put(item)`` -> ``work(item)`` in a thread, in order; ``close()`` waits for the rest."""

    def __init__(self, work: Callable[[Any], None], *, depth: int = 1) -> None:
        self._work = work
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = False  # (for good: what comes after a failure is not done)
        # a daemon: a caller that dies without close() leaves no thread waiting on the queue
        self._thread = threading.Thread(target=self._run, name="sftforge-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._queue.task_done()
                return
            if not self._failed:
                try:
                    self._work(item)
                except BaseException as exc:  # raised again in the caller's thread
                    self._error, self._failed = exc, True
            self._queue.task_done()

    def put(self, item: Any) -> None:
        self._raise()
        self._queue.put(item)

    def wait(self) -> None:
        """Wait until everything put is done (the thread then holds no lock: e.g. before a
        fork, whose child must not inherit a lock taken by a thread it does not have)."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Wait until everything put is done; raise what the work raised."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        error = self._error
        if error is not None:
            self._error = None
            raise error
