"""A wall-clock guard for the hostile-template tests: a case still running after ``seconds``
fails with ``Hung`` instead of hanging the suite (SIGALRM: main thread only)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Hung", "wall_clock"]


class Hung(Exception):
    pass


@contextmanager
def wall_clock(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
