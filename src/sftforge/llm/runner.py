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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import BudgetExceeded, LLMError
from ..progress import Stage, stage
from .client import DryRunStop

__all__ = ["ItemFailure", "RunResult", "UsageProbe", "count_failed", "item_progress", "run_items"]

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


UsageProbe = Callable[[], dict[str, Any]]  # an LLM client's numbers now (``LLMClient.usage``)


def item_progress(
    enabled: bool, label: str, total: int, usage: UsageProbe | None = None
) -> AbstractContextManager[Stage | None]:
    """A progress stage over ``total`` items (``sftforge.progress``: a bar with items/s and ETA on
        a terminal, a line when it ends otherwise; a watcher gets the numbers); nothing when
        disabled. ``usage()`` adds the client's calls, failures, tokens and cost made during the stage,
    and its budget, as ``info["llm"]``."""
    if not enabled:
        return nullcontext()
    # a client may serve several stages (self_instruct's two): each shows its own calls
    start = usage() if usage is not None else {}

    def extra() -> dict[str, Any]:
        if usage is None:
            return {}
        now = usage()
        for key, before in start.items():
            if key not in ("priced", "budget"):
                now[key] = round(now[key] - before, 6) if key == "cost" else now[key] - before
        return {"llm": now}

    return stage(label, total, unit="items", line=True, extra=extra)


def count_failed(prog: Stage | None, failed: int) -> None:
    """Show the items failed so far beside the client's numbers (``info["items_failed"]``)."""
    if prog is not None:
        prog.info["items_failed"] = failed


async def run_items(
    items: Sequence[T],
    worker: Callable[[T], Awaitable[list[R]]],
    *,
    concurrency: int = 8,
    progress: bool = False,
    label: str = "generate",
    usage: UsageProbe | None = None,
) -> RunResult[T, R]:
    """Run ``worker`` over ``items``; see the module docstring for failures and budget stops."""
    results: list[list[R] | None] = [None] * len(items)
    res: RunResult[T, R] = RunResult()
    done = [False] * len(items)
    next_index = iter(range(len(items)))

    async def loop(prog: Stage | None) -> None:
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
            if prog is not None:
                count_failed(prog, len(res.failures))
                prog.advance()

    with item_progress(progress, label, len(items), usage) as prog:
        await asyncio.gather(*(loop(prog) for _ in range(max(1, concurrency))))
    for i, out in enumerate(results):
        if out is not None:
            res.outputs.extend(out)
        elif not done[i]:
            res.unfinished.append(items[i])
    order = {id(it): n for n, it in enumerate(items)}
    res.failures.sort(key=lambda f: order.get(id(f.item), 0))
    return res
