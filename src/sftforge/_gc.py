"""Ways to keep Python's cyclic garbage collector out of bulk loops.

Bulk loops make huge numbers of short-lived, acyclic objects (records, token-id lists), and the
collector's default young-generation threshold (700) makes it rescan them constantly.

- ``gc_paused``: no cyclic collection at all, for bounded work (one batch, one chunk).
- ``gc_relaxed``: freeze what exists and collect rarely instead of never, for streams of
  unbounded size (multi-GB inputs), so stray cycles are still freed.
- ``gc_bulk``: ``gc_relaxed`` for a call that returns what it built (all rows of a dataset): on
  exit those objects go straight to the oldest generation, not rescanned as young ones.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_bulk", "gc_paused", "gc_relaxed"]


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


@contextmanager
def gc_bulk() -> Iterator[None]:
    """``gc_relaxed`` for a bounded call that returns what it makes (rows, records): on exit the
    objects made during the call join the oldest generation, instead of being rescanned as young
    objects by the next collections (a cost in proportion to everything the call returned)."""
    with gc_relaxed():
        try:
            yield
        finally:
            gc.freeze()  # young objects too; gc_relaxed's unfreeze puts them in the oldest generation
