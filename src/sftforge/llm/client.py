"""``LLMClient``: one provider plus the cache, rate limits, retries, budget and usage summary.

Every generator calls ``complete`` (text) or ``complete_json`` (a JSON value checked against a
schema). Order of a call: cache lookup (a hit is free and sends nothing) → identical call
already in flight? wait for it → concurrency slot → budget reservation → rate-limit slot →
provider attempt, retried with backoff → usage, cost and cache write.

Parameters whose name starts with ``_`` (e.g. ``_salt``) are part of the cache key but are not
sent: generators use them to ask the same prompt twice and get two cached answers.

``peers`` (``PromptPeers``, set by the Ray executor's LLM tasks): the other clients of the same
step, in other processes. A call that misses the cache first claims its key there: an answer
another client fetched (or is fetching) comes back from it instead of being sent again, so the
step sends each distinct prompt once, as one client with a cache does.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Protocol

from ..errors import LLMError
from .budget import Budget, PriceTable, UsageSummary, estimate_messages_tokens, estimate_tokens
from .cache import CompletionCache, cache_key
from .jsonout import JSONOutputError, parse_json_output
from .limits import RateLimiter, retry
from .refusal import RefusalDetector
from .types import ChatMessages, Completion, Provider, RetryableError, Usage

__all__ = ["DryRunProvider", "DryRunStop", "LLMClient", "PromptPeers", "Refused"]

_FIX_JSON = {
    "en": "Your reply could not be used: {error}. Reply again with only the JSON, nothing else.",
    "zh": "你的回复无法使用：{error}。请重新回复，只输出 JSON，不要输出其他内容。",
}


class DryRunStop(LLMError):
    """Raised by ``DryRunProvider`` in place of a call: the call was counted, not sent."""


class Refused(LLMError):
    """The model refused (see ``refusal.py``): the item fails with the refusing words."""


class DryRunProvider:
    """Counts what would be sent (prompt tokens, expected output) and sends nothing."""

    def __init__(self, inner_name: str, model: str, output_estimate: int = 512) -> None:
        self.name, self.model = inner_name, model
        self.output_estimate = output_estimate
        self.calls = 0
        self.usage = Usage()

    async def complete(self, messages: ChatMessages, **params: Any) -> Completion:
        self.calls += 1
        out = int(params.get("max_tokens") or self.output_estimate)
        self.usage.add(Usage(estimate_messages_tokens(messages), out))
        raise DryRunStop("dry run: call counted, not sent")

    async def aclose(self) -> None:
        return None


class PromptPeers(Protocol):
    """Clients in other processes sharing one step's calls (see the module docstring)."""

    async def claim(self, key: str) -> Completion | None:
        """``None``: this client sends the call (then ``publish`` or ``failed``); else the
        answer another client got (an error it got is raised here)."""

    def publish(self, key: str, comp: Completion) -> None: ...

    def failed(self, key: str, exc: BaseException) -> None: ...


class LLMClient:
    """Cached, rate-limited, retried, budgeted calls to one provider."""

    def __init__(
        self,
        provider: Provider,
        *,
        cache: CompletionCache | None = None,
        limiter: RateLimiter | None = None,
        budget: Budget | None = None,
        prices: PriceTable | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        params: dict[str, Any] | None = None,
        output_estimate: int = 512,
        seed: int | None = None,
        refusals: RefusalDetector | None = None,
    ) -> None:
        self.provider = provider
        self.refusals = refusals
        self.cache = cache
        self.limiter = limiter or RateLimiter()
        self.budget = budget or Budget()
        self.prices = prices or PriceTable()
        self.concurrency = concurrency
        self.max_retries, self.backoff_base, self.max_backoff = (
            max_retries,
            backoff_base,
            max_backoff,
        )
        self.params = dict(params or {})
        self.output_estimate = output_estimate
        self.summary = UsageSummary()
        self._rng = random.Random(seed)
        self._sem: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self.peers: PromptPeers | None = None

    @property
    def model(self) -> str:
        return self.provider.model

    def usage(self) -> dict[str, Any]:
        """What the client has done so far, and its budget: the numbers a step's progress shows
        (``sftforge.progress``: the CLI's bar and the studio's job). ``calls`` are the requests
        sent (retries included), ``calls_failed`` the calls that failed for good; ``budget``
        the limits and what was spent against them (``None``: no limit)."""
        s, b = self.summary, self.budget
        return {
            "calls": s.requests,
            "cache_hits": s.cache_hits,
            "retries": s.retries,
            "calls_failed": s.failures,
            "prompt_tokens": s.usage.prompt_tokens,
            "completion_tokens": s.usage.completion_tokens,
            "tokens": s.usage.total_tokens,
            "cost": round(s.cost, 6),
            "priced": self.prices.knows(self.model),
            "budget": {
                "max_tokens": b.max_tokens,
                "max_cost": b.max_cost,
                "spent_tokens": b.spent_tokens,
                "spent_cost": round(b.spent_cost, 6),
            },
        }

    def key(self, messages: ChatMessages, params: dict[str, Any]) -> str:
        return cache_key(self.provider.name, self.provider.model, params, messages)

    async def complete(self, messages: ChatMessages, **params: Any) -> Completion:
        """The answer to ``messages``: from the cache, or from the provider (then cached)."""
        params = {**self.params, **params}
        key = self.key(messages, params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.summary.cache_hits += 1
            self._check_refusal(hit)
            return hit
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            result = await self._shared_or_fetch(key, messages, params)
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters get it through await
            raise
        else:
            fut.set_result(result)
            if self.cache is not None:
                self.cache.put(key, result)
            return result
        finally:
            del self._inflight[key]

    async def _shared_or_fetch(
        self, key: str, messages: ChatMessages, params: dict[str, Any]
    ) -> Completion:
        """The call's answer from a peer that has it (counted as a cache hit: it was fetched
        once for the step), else fetched here and handed to the peers."""
        if self.peers is None:
            return await self._fetch(messages, params)
        shared = await self.peers.claim(key)
        if shared is not None:
            self.summary.cache_hits += 1
            self._check_refusal(shared)
            return shared
        try:
            comp = await self._fetch(messages, params)
        except BaseException as exc:
            self.peers.failed(key, exc)
            raise
        self.peers.publish(key, comp)
        return comp

    async def _fetch(self, messages: ChatMessages, params: dict[str, Any]) -> Completion:
        send = {k: v for k, v in params.items() if not k.startswith("_")}
        est_in = estimate_messages_tokens(messages)
        est_out = int(send.get("max_tokens") or self.output_estimate)
        est_cost = self.prices.cost(self.model, Usage(est_in, est_out))
        dry = isinstance(self.provider, DryRunProvider)
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)

        async def attempt() -> Completion:
            entry = await self.limiter.acquire(est_in + est_out)
            self.summary.requests += 1
            comp = await self.provider.complete(messages, **send)
            if comp.usage.total_tokens == 0:  # servers that report no usage: count estimates
                comp.usage = Usage(est_in, estimate_tokens(comp.text + (comp.reasoning or "")))
            self.limiter.settle(entry, comp.usage.total_tokens)
            # every answered attempt is paid for, the empty ones too
            cost = self.prices.cost(self.model, comp.usage)
            self.budget.spend(comp.usage.total_tokens, cost)
            self.summary.usage.add(comp.usage)
            self.summary.cost += cost
            if not comp.text.strip():
                why = "reasoning only, no answer" if comp.reasoning else "an empty answer"
                raise RetryableError(f"the model returned {why}")
            self._check_refusal(comp)  # not cached: a retry asks again
            return comp

        def counted(_exc: RetryableError, _delay: float) -> None:
            self.summary.retries += 1

        async with self._sem:
            # reserve only once the call really goes out, so queued calls hold no budget
            if not dry:
                self.budget.reserve(est_in + est_out, est_cost)
            try:
                comp = await retry(
                    attempt,
                    max_retries=self.max_retries,
                    base=self.backoff_base,
                    max_delay=self.max_backoff,
                    rng=self._rng,
                    on_retry=counted,
                )
            except DryRunStop:
                raise
            except LLMError:
                self.summary.failures += 1
                raise
            finally:
                if not dry:
                    self.budget.release(est_in + est_out, est_cost)
        return comp

    def _check_refusal(self, comp: Completion) -> None:
        phrase = self.refusals.match(comp.text) if self.refusals is not None else None
        if phrase is not None:
            shown = " ".join(comp.text.split())
            shown = shown if len(shown) <= 80 else shown[:80] + "…"
            raise Refused(
                f"the model refused (refusal phrase '{phrase}'): '{shown}'",
                hint="change the prompt or model, or turn the check off (llm.refusal_check: false)",
            )

    async def complete_json(
        self,
        messages: ChatMessages,
        schema: dict[str, Any] | None = None,
        *,
        attempts: int = 3,
        lang: str = "en",
        **params: Any,
    ) -> tuple[Any, Completion]:
        """A JSON value (repaired, validated); a bad reply is sent back once more with the error."""
        msgs = list(messages)
        last: JSONOutputError | None = None
        for _ in range(attempts):
            comp = await self.complete(msgs, **params)
            try:
                return parse_json_output(comp.text, schema), comp
            except JSONOutputError as exc:
                last = exc
                fix = _FIX_JSON.get(lang, _FIX_JSON["en"]).format(error=exc)
                msgs = [*messages, {"role": "assistant", "content": comp.text}]
                msgs.append({"role": "user", "content": fix})
        raise LLMError(f"no valid JSON after {attempts} attempts: {last}")

    async def aclose(self) -> None:
        await self.provider.aclose()
        if self.cache is not None:
            self.cache.close()
