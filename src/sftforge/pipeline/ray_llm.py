"""LLM steps on Ray: the calls of a generate step made by Ray tasks, with one cache, one budget
and one set of rate limits for the whole run, and the local executor's outputs.

The driver cuts the step's inputs into contiguous pieces and runs ``generate`` on each piece as
a Ray task (the generator, client, cache, retries and runner are the ones a local run uses);
the pieces' results are put back together in input order, so samples, rejects and the failed
file come out as locally. Only the steps whose items are independent are spread: respond,
judge, evol_instruct, paraphrase and translate. judge_pair (groups), self_instruct (rounds that
read earlier rounds), doc_qa and backtranslate run in the driver as before.

Cache (the SQLite file ``llm.cache``, one format): before the step the driver copies the main
cache to ``<run>/.work/llm-cache/sNN/main.sqlite`` (``CompletionCache.snapshot``); every task
reads that copy, opened immutable, and writes what it fetched to its own file beside it. After
the step (and, for a driver killed mid-step, before the next attempt) the driver merges the
tasks' files into the main cache. No file has two writers and no reader needs a lock, so the
run folder may be a network file system, where SQLite's WAL does not work. A rerun finds every
answer in the main cache and sends nothing.

Budget: one ``BudgetLedger`` actor holds the run's ``Budget``; each task's client reserves,
releases and spends through it (``SharedBudget``), so the tokens and cost sent by all workers
together never pass the limit, exactly as one client's would not. The first refusal stops the
whole step, as ``run_items`` stops a local job: every later reservation is refused with the same
message, pieces not started are not run, and the items not done are written to the failed file
with ``not run: <message>`` (a rerun with a larger budget resumes from the cache).

Rate limits: one ``RateLedger`` actor holds the run's ``RateLimiter``; each call of every
task waits its turn there (``SharedLimiter``), so ``llm.rpm`` and ``llm.tpm`` hold for the run as
a whole, whatever the pieces and workers. Concurrency: the driver runs at most ``slots`` pieces
at once, each with ``concurrency // slots`` calls in flight.

Test hook: ``SFTFORGE_TEST_RAY_KILL_LLM_ONCE=<path>`` (read by ``RayExecutor``) kills the worker
of the first LLM task, as ``SFTFORGE_TEST_RAY_KILL_ONCE`` does for the first task of the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from ..errors import BudgetExceeded, SftforgeError
from ..generate.base import Generator, build_generator
from ..generate.run import GenerationResult, failure_record, generate, generate_async
from ..llm.budget import Budget
from ..llm.cache import CompletionCache
from ..llm.config import LLMConfig
from ..llm.limits import RateLimiter
from ..llm.runner import item_progress
from ..progress import Stage
from .ray_pool import RayPool

__all__ = [
    "DISTRIBUTED",
    "BudgetLedger",
    "RateLedger",
    "RayGeneration",
    "SharedBudget",
    "SharedLimiter",
    "generate_piece",
    "limit_shares",
]

DISTRIBUTED = ("respond", "judge", "evol_instruct", "paraphrase", "translate")
PIECES_PER_SLOT = 4  # pieces per task slot: a slow piece holds up less of the step


class BudgetLedger:
    """The run's budget (a Ray actor): reservations from every task, the first refusal sticks."""

    def __init__(self, max_tokens: int | None, max_cost: float | None) -> None:
        self.budget = Budget(max_tokens=max_tokens, max_cost=max_cost)
        self.refused: tuple[str, str | None] | None = None

    def reserve(self, tokens: int, cost: float) -> tuple[str, str | None] | None:
        """``None`` when the call may go out, else the refusal (message, hint)."""
        if self.refused is None:
            try:
                self.budget.reserve(tokens, cost)
            except BudgetExceeded as exc:
                self.refused = (exc.message, exc.hint)
        return self.refused

    def release(self, tokens: int, cost: float) -> None:
        self.budget.release(tokens, cost)

    def spend(self, tokens: int, cost: float) -> None:
        self.budget.spend(tokens, cost)

    def state(self) -> tuple[tuple[str, str | None] | None, int, float]:
        return self.refused, self.budget.spent_tokens, self.budget.spent_cost


class SharedBudget(Budget):
    """A task's view of the ``BudgetLedger``: the ``Budget`` calls an ``LLMClient`` makes."""

    def __init__(self, ledger: Any) -> None:
        super().__init__()
        self._ledger = ledger

    def reserve(self, tokens: int, cost: float) -> None:
        import ray

        refused = ray.get(self._ledger.reserve.remote(tokens, cost))
        if refused is not None:
            raise BudgetExceeded(refused[0], hint=refused[1])

    def release(self, tokens: int, cost: float) -> None:
        # no wait: Ray runs one caller's calls to an actor in the order they were made
        self._ledger.release.remote(tokens, cost)

    def spend(self, tokens: int, cost: float) -> None:
        super().spend(tokens, cost)
        self._ledger.spend.remote(tokens, cost)


class RateLedger:
    """The run's rate limits (an async Ray actor): every task's calls wait their turn here."""

    def __init__(self, rpm: int | None, tpm: int | None, window: float) -> None:
        self.limiter = RateLimiter(rpm=rpm, tpm=tpm, window=window)
        self.entries: dict[int, list[float]] = {}
        self.issued = 0

    async def acquire(self, tokens: int) -> int:
        """Wait for room for a call of ``tokens`` (estimated); its key for ``settle``."""
        entry = await self.limiter.acquire(tokens)
        self.issued += 1
        self.entries[self.issued] = entry
        # calls that failed never settle: forget the entries that left the window
        if len(self.entries) > 4 * (self.limiter.rpm or 1024):
            for key in list(self.entries)[: len(self.entries) // 2]:
                del self.entries[key]
        return self.issued

    def settle(self, key: int, tokens: int) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            RateLimiter.settle(entry, tokens)


class SharedLimiter(RateLimiter):
    """A task's view of the ``RateLedger``: the ``RateLimiter`` calls an ``LLMClient`` makes."""

    def __init__(self, ledger: Any) -> None:
        super().__init__()
        self._ledger = ledger

    async def acquire(self, tokens: int = 0) -> list[float]:
        key = await self._ledger.acquire.remote(tokens)
        return [float(key), float(tokens)]

    def settle(self, entry: list[float], tokens: int) -> None:  # type: ignore[override]
        self._ledger.settle.remote(int(entry[0]), tokens)


def generate_piece(
    task: str,
    options: dict[str, Any],
    llm: dict[str, Any],
    share: dict[str, Any],
    items: list[Any],
    own_cache: str | None,
    snapshot: str | None,
    ledger: Any,
    rates: Any,
) -> GenerationResult:
    """A Ray task: ``generate`` over one piece, with the task's share of the limits, the
    snapshot plus its own cache file, and the shared budget. Failed records carry ``llm`` (the
    recipe's options), as a local run writes them."""
    gen = build_generator(task, options)
    cfg = LLMConfig.from_dict(llm)
    # the ledgers hold the budget and rate limits; the cache is the task's own
    unlimited: dict[str, Any] = dict.fromkeys(
        ("cache", "max_tokens_budget", "max_cost", "rpm", "tpm")
    )
    mine = dataclasses.replace(cfg, **unlimited, **share)
    if ledger is not None:
        refused, _, _ = _ray().get(ledger.state.remote())
        if refused is not None:  # the step stopped before this piece began: nothing starts
            return _not_run(gen, cfg, items, refused[0])

    async def main() -> GenerationResult:
        client = mine.build_client()
        if own_cache is not None:
            client.cache = CompletionCache(own_cache, fallback=snapshot)
        if ledger is not None:
            client.budget = SharedBudget(ledger)
        if rates is not None:
            client.limiter = SharedLimiter(rates)
        try:
            return await generate_async(gen, items, client, llm=cfg)
        finally:
            await client.aclose()

    return asyncio.run(main())


def _not_run(gen: Generator, cfg: LLMConfig, items: list[Any], why: str) -> GenerationResult:
    failed = [failure_record(gen, cfg, it, f"not run: {why}") for it in items]
    return GenerationResult(failed=failed, stopped=why, unfinished=len(items))


def _ray() -> Any:
    import ray

    return ray


class RayGeneration:
    """A ``GenerateOp.runner`` that runs the step's calls as Ray tasks (see the module)."""

    def __init__(self, pool: RayPool, folder: Path, slots: int) -> None:
        self.pool, self.folder, self.slots = pool, folder, max(1, slots)

    def __call__(self, gen: Generator, items: list[Any], cfg: LLMConfig) -> GenerationResult:
        if gen.task not in DISTRIBUTED or cfg.provider != "openai" or not items:
            return generate(gen, items, cfg, progress=True)  # the driver calls, as locally
        main = Path(cfg.cache).expanduser().resolve() if cfg.cache else None
        if main is not None:
            self._fold(main)  # what a killed attempt fetched is kept
        self.folder.mkdir(parents=True, exist_ok=True)
        snapshot: Path | None = None
        if main is not None and main.exists():
            snapshot = self.folder / "main.sqlite"
            cache = CompletionCache(main)
            try:
                cache.snapshot(snapshot)
            finally:
                cache.close()
        slots, share = limit_shares(cfg, min(self.slots, len(items)))
        if isinstance(cfg.prices, str):  # a price file is read here, where its path is valid
            share["prices"] = cfg.price_table().prices
        ledger = None
        if cfg.max_tokens_budget is not None or cfg.max_cost is not None:
            actor = _ray().remote(num_cpus=0)(BudgetLedger)
            ledger = actor.remote(cfg.max_tokens_budget, cfg.max_cost)
        rates = None
        if cfg.rpm is not None or cfg.tpm is not None:
            actor = _ray().remote(num_cpus=0)(RateLedger)
            rates = actor.remote(cfg.rpm, cfg.tpm, cfg.window)
        try:
            results = self._run(gen, items, cfg, share, slots, main, snapshot, (ledger, rates))
        finally:
            if main is not None:
                self._fold(main)
        return _joined(gen, cfg, results)

    def _run(
        self,
        gen: Generator,
        items: list[Any],
        cfg: LLMConfig,
        share: dict[str, Any],
        slots: int,
        main: Path | None,
        snapshot: Path | None,
        ledgers: tuple[Any, Any],
    ) -> list[GenerationResult]:
        pieces = list(_pieces(items, slots * PIECES_PER_SLOT))
        results: list[GenerationResult | None] = [None] * len(pieces)
        opts, llm = gen.options(), cfg.to_dict()
        if cfg.api_key is not None:
            llm["api_key"] = cfg.api_key  # given in the recipe itself: its tasks need it too
        with item_progress(True, gen.task, len(items)) as prog:  # advanced per piece
            self._loop(gen, pieces, results, opts, llm, share, slots, main, snapshot, ledgers, prog)
        return [r for r in results if r is not None]

    def _loop(
        self,
        gen: Generator,
        pieces: list[list[Any]],
        results: list[GenerationResult | None],
        opts: dict[str, Any],
        llm: dict[str, Any],
        share: dict[str, Any],
        slots: int,
        main: Path | None,
        snapshot: Path | None,
        ledgers: tuple[Any, Any],
        prog: Stage | None,
    ) -> None:
        """Keep ``slots`` pieces running until all are done; results by piece index. When a
        piece fails, none starts after it and the pieces running finish (their calls are paid
        for and their answers cached) before the error is raised."""
        inflight: dict[Future[Any], int] = {}
        todo = iter(range(len(pieces)))
        error: BaseException | None = None
        while True:
            if error is None:
                for i in todo:
                    own = str(self.folder / f"part-{i:05d}.sqlite") if main is not None else None
                    snap = str(snapshot) if snapshot is not None else None
                    args = (gen.task, opts, llm, share, pieces[i], own, snap, *ledgers)
                    fut = self.pool.submit(generate_piece, *args)
                    inflight[fut] = i
                    if len(inflight) >= slots:
                        break
            if not inflight:
                break
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for fut in done:
                i = inflight.pop(fut)
                try:
                    results[i] = fut.result()
                except Exception as exc:
                    error = error or exc
                    continue
                if prog is not None:
                    prog.advance(len(pieces[i]))
        if isinstance(error, SftforgeError):
            raise error
        if error is not None:
            raise SftforgeError(
                f"{gen.task}: a Ray task making its LLM calls failed: {error}",
                hint="rerun the same command: the answers fetched so far are cached",
            ) from None

    def _fold(self, main: Path) -> None:
        """Merge the tasks' cache files into the main cache, then drop them and the copy."""
        parts = sorted(self.folder.glob("part-*.sqlite")) if self.folder.exists() else []
        if parts:
            cache = CompletionCache(main)
            try:
                for part in parts:
                    cache.merge_from(part)
            finally:
                cache.close()
        for f in (*parts, self.folder / "main.sqlite"):
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(f"{f}{extra}").unlink(missing_ok=True)


def limit_shares(cfg: LLMConfig, cpus: int) -> tuple[int, dict[str, Any]]:
    """How many pieces run at once, and each one's ``concurrency``: together never more than
    the step's own (``rpm`` and ``tpm`` are the ``RateLedger``'s, for the whole run)."""
    slots = max(1, min(cpus, cfg.concurrency))
    return slots, {"concurrency": cfg.concurrency // slots}


def _pieces(items: list[Any], n: int) -> Iterator[list[Any]]:
    """``items`` in ``n`` contiguous pieces (fewer when there are fewer items)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    start = 0
    for k in range(n):
        end = start + size + (1 if k < extra else 0)
        yield items[start:end]
        start = end


def _joined(gen: Generator, cfg: LLMConfig, results: list[GenerationResult]) -> GenerationResult:
    """The pieces' results as one local run gives them: samples and drops in input order, the
    failures, then the items not run (all with the step's one stop message)."""
    out = GenerationResult()
    unfinished: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for r in results:
        out.samples.extend(r.samples)
        cut = len(r.failed) - r.unfinished
        out.failed.extend(r.failed[:cut])
        unfinished.extend(r.failed[cut:])
        out.dropped.extend(r.dropped)
        out.stopped = out.stopped or r.stopped
        for k, v in r.summary.items():
            summary[k] = summary.get(k, 0) + v
    if "cost" in summary:
        summary["cost"] = round(summary["cost"], 6)
    why = f"not run: {out.stopped}" if out.stopped else "not run"
    for rec in unfinished:
        rec["reason"] = why
    out.failed.extend(unfinished)
    out.unfinished = len(unfinished)
    out.summary = summary
    return out
