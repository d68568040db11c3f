"""LLM steps on Ray: the calls of a generate step made by Ray tasks, with one cache, one budget
and one set of rate limits for the whole run, and the local executor's outputs.

The driver turns the step's inputs into work items as a local run does (``Generator.prepare``:
judge_pair's groups of answers, doc_qa's document chunks; a group is never cut), cuts them into
contiguous pieces and runs ``generate`` on each piece as a Ray task (the generator, client,
cache, retries and runner are the ones a local run uses; ``prepare`` leaves prepared items as
they are); the pieces' results are put back together in input order, so samples, rejects and
the failed file come out as locally. Every generate step runs so: respond, judge, judge_pair,
evol_instruct, paraphrase, translate, doc_qa, backtranslate, and self_instruct, whose proposal
rounds (each reads the instructions kept before it) run in one task with the step's whole
``concurrency`` (the same rounds as locally), then its instances are spread like the others.
With the ``local`` provider each task loads the model once (one piece per task slot:
``llm.concurrency`` bounds the copies of the model the cluster holds at once) and holds one GPU
while it runs (``task_gpus``) when the model is to run on one: ``llm.device`` ``cuda``/``cuda:N``,
or no device on a cluster that has GPUs; so Ray places the tasks on GPU nodes, one model per
GPU, and tasks wait for a free GPU rather than share one. ``llm.device: cpu`` holds none.

Cache (the SQLite file ``llm.cache``, one format): before the step the driver copies the main
cache to ``<run>/.work/llm-cache/sNN/main.sqlite`` (``CompletionCache.snapshot``); every task
reads that copy, opened immutable, and writes what it fetched to its own file beside it. After
the step (and, for a driver killed mid-step, before the next attempt) the driver merges the
tasks' files into the main cache. No file has two writers and no reader needs a lock, so the
run folder may be a network file system, where SQLite's WAL does not work. A rerun finds every
answer in the main cache and sends nothing.

Prompts in two tasks: one ``PromptLedger`` actor (one per run, reset at each step with a cache)
is every task client's ``peers``: a call that misses the snapshot claims its key there; the
first claim sends it, a claim while it is in flight waits for its answer, a later claim gets
the answer kept in the ledger. So the step sends each distinct prompt once, as one local
client with a cache does (an error reaches the claims waiting at that time; a later claim
sends again, as locally). A piece's claims carry its name: its retried attempt (a worker that
died) sends its claimed keys itself, and the keys of a piece that failed for good are handed
to the claims waiting on them. The ledger keeps the answers fetched in the step (its memory is
the step's answers, which the driver gathers anyway) until the next step.

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
import pickle
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from ..errors import BudgetExceeded, LLMError, SftforgeError
from ..generate.base import Generator, build_generator
from ..generate.run import GenerationResult, failure_record, generate, generate_async
from ..generate.self_instruct import SelfInstruct
from ..llm.budget import Budget
from ..llm.cache import CompletionCache
from ..llm.client import LLMClient
from ..llm.config import LLMConfig
from ..llm.limits import RateLimiter
from ..llm.runner import item_progress
from ..llm.types import Completion
from ..progress import Stage
from .ray_pool import RayPool

__all__ = [
    "DISTRIBUTED",
    "BudgetLedger",
    "PromptLedger",
    "RateLedger",
    "RayGeneration",
    "SharedBudget",
    "SharedLimiter",
    "SharedPrompts",
    "generate_piece",
    "limit_shares",
    "task_gpus",
]

# every generate step (generate/ops.py: OP_TASKS and SOURCE_TASKS)
DISTRIBUTED = (
    "respond", "judge", "judge_pair", "evol_instruct", "paraphrase", "translate",
    "doc_qa", "backtranslate", "self_instruct",
)  # fmt: skip
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


class PromptLedger:
    """The step's prompts (an async Ray actor): who sends each one, and the answers.

    ``owner`` names the piece that claims (its retried attempts have the same name): a piece
    whose worker died after claiming sends its keys again when Ray runs it again, and the
    driver ``abandon``s the keys of a piece that failed for good, so no claim waits for ever."""

    def __init__(self) -> None:
        self.answers: dict[str, Completion] = {}
        self.sending: dict[str, tuple[str, asyncio.Future[tuple[str, Any]]]] = {}

    async def claim(self, key: str, owner: str) -> tuple[str, Any]:
        """``("send", None)``: the caller sends it; ``("answer", completion)``, or
        ``("error", exception)`` for the claims waiting when the sender failed."""
        while True:
            if key in self.answers:
                return "answer", self.answers[key]
            held = self.sending.get(key)
            if held is None or held[0] == owner:  # free, or claimed by an earlier attempt
                if held is None:
                    self.sending[key] = (owner, asyncio.get_running_loop().create_future())
                return "send", None
            kind, value = await asyncio.shield(held[1])
            if kind != "retry":
                return kind, value

    def publish(self, key: str, comp: Completion) -> None:
        self.answers[key] = comp
        self._settle(key, ("answer", comp))

    def failed(self, key: str, exc: BaseException) -> None:
        self._settle(key, ("error", exc))  # a later claim sends it again

    def abandon(self, owner: str) -> None:
        """A piece failed for good: the claims waiting on its keys claim them again."""
        for key in [k for k, (o, _) in self.sending.items() if o == owner]:
            self._settle(key, ("retry", None))

    def _settle(self, key: str, result: tuple[str, Any]) -> None:
        held = self.sending.pop(key, None)
        if held is not None and not held[1].done():
            held[1].set_result(result)

    def reset(self) -> None:
        """A new step: the answers of the last one go (they are in the main cache now)."""
        self.answers.clear()
        self.sending.clear()


class SharedPrompts:
    """A task client's view of the ``PromptLedger`` (``LLMClient.peers``)."""

    def __init__(self, ledger: Any, owner: str) -> None:
        self._ledger, self._owner = ledger, owner

    async def claim(self, key: str) -> Completion | None:
        kind, value = await self._ledger.claim.remote(key, self._owner)
        if kind == "error":
            raise value
        return value if kind == "answer" else None

    def publish(self, key: str, comp: Completion) -> None:
        self._ledger.publish.remote(key, comp)

    def failed(self, key: str, exc: BaseException) -> None:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # an error that does not travel: the waiting claims get its text
            exc = LLMError(str(exc))
        self._ledger.failed.remote(key, exc)


def generate_piece(
    task: str,
    options: dict[str, Any],
    llm: dict[str, Any],
    share: dict[str, Any],
    items: list[Any],
    own_cache: str | None,
    snapshot: str | None,
    ledgers: tuple[Any, Any, Any],
    owner: str = "",
) -> GenerationResult:
    """A Ray task: ``generate`` over one piece, with the task's share of the limits, the
    snapshot plus its own cache file, and the step's ledgers (budget, rates, prompts). Failed
    records carry ``llm`` (the recipe's options), as a local run writes them."""
    gen = build_generator(task, options)
    cfg = LLMConfig.from_dict(llm)
    stopped = _stopped(ledgers[0])
    if stopped is not None:  # the step stopped before this piece began: nothing starts
        return _not_run(gen, cfg, items, stopped)

    async def main() -> GenerationResult:
        client = _client(cfg, share, own_cache, snapshot, ledgers, owner)
        try:
            return await generate_async(gen, items, client, llm=cfg)
        finally:
            await client.aclose()

    return asyncio.run(main())


def propose_piece(
    options: dict[str, Any],
    llm: dict[str, Any],
    share: dict[str, Any],
    seeds: list[Any],
    own_cache: str | None,
    snapshot: str | None,
    ledgers: tuple[Any, Any, Any],
    owner: str = "propose",
) -> tuple[list[Any], GenerationResult]:
    """A Ray task: self_instruct's proposal rounds (``SelfInstruct.propose``) over all the
    seeds; the stage-two items, and the result so far as ``generate`` gives it (after a budget
    stop the stage-two items are in its failed records, not run)."""
    gen = build_generator("self_instruct", options)
    assert isinstance(gen, SelfInstruct)
    cfg = LLMConfig.from_dict(llm)

    async def main() -> tuple[list[Any], GenerationResult]:
        client = _client(cfg, share, own_cache, snapshot, ledgers, owner)
        try:
            pending, res = await gen.propose(client, seeds)
        finally:
            await client.aclose()
        out = GenerationResult(stopped=res.stopped)
        out.failed = [failure_record(gen, cfg, f.item, f.reason) for f in res.failures]
        if res.stopped:
            out.failed += [
                failure_record(gen, cfg, it, f"not run: {res.stopped}") for it in pending
            ]
            out.unfinished, pending = len(pending), []
        out.dropped = [d.to_dict(gen.task) for d in gen.sorted_drops()]
        out.summary = {"items": len(seeds), "samples": 0, **client.summary.to_dict()}
        return pending, out

    return asyncio.run(main())


def _client(
    cfg: LLMConfig,
    share: dict[str, Any],
    own_cache: str | None,
    snapshot: str | None,
    ledgers: tuple[Any, Any, Any],
    owner: str,
) -> LLMClient:
    """A task's client: its share of the concurrency, its own cache file over the snapshot,
    the step's ledgers for the budget, the rate limits and the prompts."""
    # the ledgers hold the budget and rate limits; the cache is the task's own
    unlimited: dict[str, Any] = dict.fromkeys(
        ("cache", "max_tokens_budget", "max_cost", "rpm", "tpm")
    )
    client = dataclasses.replace(cfg, **unlimited, **share).build_client()
    budget, rates, prompts = ledgers
    if own_cache is not None:
        client.cache = CompletionCache(own_cache, fallback=snapshot)
    if budget is not None:
        client.budget = SharedBudget(budget)
    if rates is not None:
        client.limiter = SharedLimiter(rates)
    if prompts is not None:
        client.peers = SharedPrompts(prompts, owner)
    return client


def _stopped(budget: Any) -> str | None:
    """The step's budget refusal, if it came before this task began."""
    if budget is None:
        return None
    refused, _, _ = _ray().get(budget.state.remote())
    return None if refused is None else str(refused[0])


def _not_run(gen: Generator, cfg: LLMConfig, items: list[Any], why: str) -> GenerationResult:
    failed = [failure_record(gen, cfg, it, f"not run: {why}") for it in items]
    return GenerationResult(failed=failed, stopped=why, unfinished=len(items))


def _ray() -> Any:
    import ray

    return ray


@dataclasses.dataclass
class _Step:
    """What every task of one step gets: the options, its share of the limits, the caches and
    the ledgers (budget, rates, prompts)."""

    gen: Generator
    opts: dict[str, Any]
    llm: dict[str, Any]
    share: dict[str, Any]
    slots: int
    snapshot: str | None
    ledgers: tuple[Any, Any, Any]
    gpus: float = 0  # each task's GPUs (``task_gpus``)


def task_gpus(llm: dict[str, Any], cluster_gpus: float) -> float:
    """The GPUs a task of a step with ``llm`` (its options) holds: one for the ``local``
    provider on a GPU (``device`` ``cuda``/``cuda:N``, or unset on a cluster with GPUs, where
    the model would pick CUDA), else none (an API provider's task only waits on the network)."""
    if llm.get("provider") != "local":
        return 0
    device = str(llm.get("device") or "")
    if device.startswith("cuda"):
        if cluster_gpus < 1:
            raise SftforgeError(
                f"llm.device is {device!r} but the Ray cluster has no GPU",
                hint="start the Ray nodes with their GPUs (ray start --num-gpus N), or set"
                " llm.device: cpu, or leave llm.device out to use GPUs where there are some",
            )
        return 1
    return 1 if not device and cluster_gpus >= 1 else 0


class RayGeneration:
    """A ``GenerateOp.runner`` that runs the step's calls as Ray tasks (see the module)."""

    def __init__(self, pool: RayPool, folder: Path, slots: int, prompts: Any = None) -> None:
        """``prompts``: a ``PromptLedger`` actor to use (the executor keeps one for the run:
        an actor is a process, slow to start); else the step starts its own."""
        self.pool, self.folder, self.slots = pool, folder, max(1, slots)
        self.prompts = prompts
        self.cached = False  # whether the running step has a cache (its tasks' part files)

    def __call__(self, gen: Generator, items: list[Any], cfg: LLMConfig) -> GenerationResult:
        work = gen.prepare(items)  # groups and document chunks, never cut into two pieces
        if not work:
            return generate(gen, work, cfg, progress=True)  # nothing to send, as locally
        main = Path(cfg.cache).expanduser().resolve() if cfg.cache else None
        self.cached = main is not None
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
        try:
            step = self._step(gen, cfg, len(work), snapshot)
            if isinstance(gen, SelfInstruct):
                results = self._self_instruct(step, work, cfg)
            else:
                results = self._run(step, work)
        finally:
            if main is not None:
                self._fold(main)
        out = _joined(gen, cfg, results)
        out.summary["items"] = len(work)  # as one local job counts them
        return out

    def _step(self, gen: Generator, cfg: LLMConfig, n: int, snapshot: Path | None) -> _Step:
        slots, share = limit_shares(cfg, min(self.slots, n))
        if isinstance(cfg.prices, str):  # a price file is read here, where its path is valid
            share["prices"] = cfg.price_table().prices
        budget = rates = prompts = None
        if cfg.max_tokens_budget is not None or cfg.max_cost is not None:
            budget = _actor(BudgetLedger).remote(cfg.max_tokens_budget, cfg.max_cost)
        if cfg.rpm is not None or cfg.tpm is not None:
            rates = _actor(RateLedger).remote(cfg.rpm, cfg.tpm, cfg.window)
        if self.cached:  # with a cache the step sends each distinct prompt once, as locally
            if self.prompts is None:
                self.prompts = _actor(PromptLedger).remote()
            prompts = self.prompts
            _ray().get(prompts.reset.remote())
        llm = cfg.to_dict()
        if cfg.api_key is not None:
            llm["api_key"] = cfg.api_key  # given in the recipe itself: its tasks need it too
        snap = str(snapshot) if snapshot is not None else None
        gpus = task_gpus(llm, float(_ray().cluster_resources().get("GPU", 0)))
        ledgers = (budget, rates, prompts)
        return _Step(gen, gen.options(), llm, share, slots, snap, ledgers, gpus)

    def _own_cache(self, name: str) -> str | None:
        return str(self.folder / f"part-{name}.sqlite") if self.cached else None

    def _self_instruct(
        self, step: _Step, seeds: list[Any], cfg: LLMConfig
    ) -> list[GenerationResult]:
        """The proposal rounds in one task with the step's whole concurrency (a round's batch
        is ``concurrency`` requests, as locally), then the instances spread as pieces."""
        share = {**step.share, "concurrency": cfg.concurrency}
        args = (step.opts, step.llm, share, seeds, self._own_cache("propose"), step.snapshot)
        with item_progress(True, "self_instruct instructions", 1):
            fut = self.pool.submit(propose_piece, *args, step.ledgers, gpus=step.gpus)
            try:
                pending, first = fut.result()
            except Exception as exc:
                raise _failed(step.gen, exc) from None
        if not pending:
            return [first]
        step.slots, step.share = limit_shares(cfg, min(self.slots, len(pending)))
        return [first, *self._run(step, pending)]

    def _run(self, step: _Step, items: list[Any]) -> list[GenerationResult]:
        # the local provider loads its model once per task: one piece per slot
        per_slot = 1 if step.llm.get("provider") == "local" else PIECES_PER_SLOT
        pieces = list(_pieces(items, step.slots * per_slot))
        results: list[GenerationResult | None] = [None] * len(pieces)
        with item_progress(True, step.gen.task, len(items)) as prog:  # advanced per piece
            self._loop(step, pieces, results, prog)
        return [r for r in results if r is not None]

    def _loop(
        self,
        step: _Step,
        pieces: list[list[Any]],
        results: list[GenerationResult | None],
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
                    name = f"{i:05d}"  # the piece's cache file, and its name in the ledger
                    own = self._own_cache(name)
                    args = (step.gen.task, step.opts, step.llm, step.share, pieces[i], own)
                    fut = self.pool.submit(
                        generate_piece, *args, step.snapshot, step.ledgers, name, gpus=step.gpus
                    )
                    inflight[fut] = i
                    if len(inflight) >= step.slots:
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
                    if step.ledgers[2] is not None:  # its claims must not hold the others up
                        step.ledgers[2].abandon.remote(f"{i:05d}")
                    continue
                if prog is not None:
                    prog.advance(len(pieces[i]))
        if error is not None:
            raise _failed(step.gen, error)

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


def _actor(cls: type) -> Any:
    """``cls`` as a Ray actor class that takes no CPU (it only keeps the step's books)."""
    return _ray().remote(num_cpus=0)(cls)


def _failed(gen: Generator, error: BaseException) -> SftforgeError:
    """A task's error for the driver: an operator's own error, else one line to rerun."""
    if isinstance(error, SftforgeError):
        return error
    return SftforgeError(
        f"{gen.task}: a Ray task making its LLM calls failed: {error}",
        hint="rerun the same command: the answers fetched so far are cached",
    )


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
