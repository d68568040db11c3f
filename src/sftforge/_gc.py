"""Two ways to keep Python's cyclic garbage collector out of bulk loops.

Bulk loops make huge numbers of short-lived, acyclic objects (records, token-id lists), and the
collector's default young-generation threshold (700) makes it rescan them constantly.

- ``gc_paused``: no cyclic collection at all, for bounded work (one batch, one chunk).
- ``gc_relaxed``: freeze what exists and collect rarely instead of never, for streams of
  unbounded size (multi-GB inputs), so stray cycles are still freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused", "gc_relaxed"]


@contextmanager
def gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def gc_relaxed() -> Iterator[None]:
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
