"""Tokenize one batch in a worker thread while this thread prepares the next and finishes the last.

The Rust tokenizer releases the GIL while it encodes, so the Python work around it (rendering or
planning a batch before, building rows after) can run meanwhile. ``overlapped`` is that loop for
any three steps; results come out in input order and equal running the steps one after another.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["overlapped"]

B = TypeVar("B")  # a batch of input
C = TypeVar("C")  # what preparing a batch keeps for finishing it
R = TypeVar("R")  # what finishing a batch gives


def overlapped(
    batches: Iterable[B],
    prepare: Callable[[B], tuple[C, list[str]]],
    encode: Callable[[list[str]], Any],
    finish: Callable[[C, Any], R],
    *,
    ahead: int = 1,
) -> Iterator[R]:
    """``finish(kept, encode(texts))`` for ``kept, texts = prepare(batch)``, batch by batch, in
    order; ``encode`` runs in one worker thread, up to ``ahead`` batches ahead of the batch being
    finished. Closing the iterator early cancels what was not started and waits for the rest."""
    pending: deque[tuple[C, Future[Any]]] = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="sftforge-encode") as pool:
        try:
            for batch in batches:
                kept, texts = prepare(batch)
                pending.append((kept, pool.submit(encode, texts)))
                if len(pending) > ahead:
                    kept, fut = pending.popleft()
                    yield finish(kept, fut.result())
            while pending:
                kept, fut = pending.popleft()
                yield finish(kept, fut.result())
        finally:
            for _, fut in pending:
                fut.cancel()
