"""Run one async job per item with bounded concurrency, a progress bar, failures and budget stops.

``run_items`` calls ``worker(item)`` for every item and returns the results in input order.
An ``LLMError`` from a worker makes that item a failure (with the reason) — never an empty row;
any other exception does too (named with its type), so one odd reply never loses the whole job.
``BudgetExceeded`` stops the job cleanly: no new item starts, items in flight finish, and the
items not done are reported as ``unfinished`` (the caller writes them to the failed file so
``sftforge generate retry`` or a plain rerun picks them up; finished calls come from the cache).
``DryRunStop`` marks an item as counted by a dry run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import BudgetExceeded, LLMError
from .client import DryRunStop

__all__ = ["ItemFailure", "RunResult", "progress_bar", "run_items"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class ItemFailure(Generic[T]):
    item: T
    reason: str


@dataclass
class RunResult(Generic[T, R]):
    outputs: list[R] = field(default_factory=list)
    failures: list[ItemFailure[T]] = field(default_factory=list)
    unfinished: list[T] = field(default_factory=list)
    stopped: str | None = None  # the budget message when the job stopped early
    dry_counted: int = 0


def progress_bar(enabled: bool, label: str, total: int) -> Any:
    """A rich progress bar on stderr with count, rate and ETA; a no-op when disabled."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    prog.start()
    prog.add_task(label, total=total, rate="")
    return prog


def _advance(prog: Any) -> None:
    if prog is None:
        return
    task = prog.tasks[0]
    prog.advance(task.id)
    speed = task.speed
    prog.update(task.id, rate=f"{speed:.2f} it/s" if speed else "")


async def run_items(
    items: Sequence[T],
    worker: Callable[[T], Awaitable[list[R]]],
    *,
    concurrency: int = 8,
    progress: bool = False,
    label: str = "generate",
) -> RunResult[T, R]:
    """Run ``worker`` over ``items``; see the module docstring for failures and budget stops."""
    results: list[list[R] | None] = [None] * len(items)
    res: RunResult[T, R] = RunResult()
    done = [False] * len(items)
    next_index = iter(range(len(items)))
    prog = progress_bar(progress, label, len(items))

    async def loop() -> None:
        for i in next_index:
            if res.stopped is not None:
                return
            try:
                results[i] = await worker(items[i])
                done[i] = True
            except BudgetExceeded as exc:
                if res.stopped is None:
                    res.stopped = str(exc)
                return
            except DryRunStop:
                res.dry_counted += 1
                done[i] = True
            except LLMError as exc:
                res.failures.append(ItemFailure(items[i], exc.message))
                done[i] = True
            except Exception as exc:  # a bug or an odd reply fails one item, not the job
                res.failures.append(ItemFailure(items[i], f"{type(exc).__name__}: {exc}"))
                done[i] = True
            _advance(prog)

    try:
        await asyncio.gather(*(loop() for _ in range(max(1, concurrency))))
    finally:
        if prog is not None:
            prog.stop()
    for i, out in enumerate(results):
        if out is not None:
            res.outputs.extend(out)
        elif not done[i]:
            res.unfinished.append(items[i])
    order = {id(it): n for n, it in enumerate(items)}
    res.failures.sort(key=lambda f: order.get(id(f.item), 0))
    return res
