"""Request and token rate limits, and retries with exponential backoff.

``RateLimiter`` keeps the start times (and token counts) of the calls of the last ``window``
seconds and makes a caller wait until one more call fits under both ``rpm`` (calls per window)
and ``tpm`` (tokens per window). Token counts are estimates at the time of the call and are
corrected to the server's usage afterwards (``settle``). Waiters are served in arrival order.

``retry`` reruns an attempt on ``RetryableError``: it waits the server's ``Retry-After`` when
given, else ``base * 2**n`` capped at ``max_delay``, with jitter in [50%, 100%] of that delay so
many workers do not retry in lockstep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import LLMError
from .types import RetryableError

__all__ = ["RateLimiter", "backoff_delay", "retry"]

T = TypeVar("T")


class RateLimiter:
    """Sliding-window limits: at most ``rpm`` calls and ``tpm`` tokens per ``window`` seconds."""

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rpm is not None and rpm < 1:
            raise ValueError("rpm must be at least 1 (or None for no limit)")
        if tpm is not None and tpm < 1:
            raise ValueError("tpm must be at least 1 (or None for no limit)")
        self.rpm, self.tpm, self.window, self._clock = rpm, tpm, window, clock
        self._calls: deque[list[float]] = deque()  # [start time, tokens]
        self._lock: asyncio.Lock | None = None

    def _prune(self, now: float) -> None:
        while self._calls and self._calls[0][0] <= now - self.window:
            self._calls.popleft()

    def _wait_time(self, now: float, tokens: int) -> float:
        self._prune(now)
        wait = 0.0
        if self.rpm is not None and len(self._calls) >= self.rpm:
            wait = self._calls[len(self._calls) - self.rpm][0] + self.window - now
        if self.tpm is not None and self._calls:
            used = sum(c[1] for c in self._calls)
            # free the oldest calls until this one fits (a call bigger than tpm runs alone)
            for start, tok in self._calls:
                if used + tokens <= self.tpm:
                    break
                used -= tok
                wait = max(wait, start + self.window - now)
        return wait

    async def acquire(self, tokens: int = 0) -> list[float]:
        """Wait for room; return the call's record, to pass to ``settle`` with the real usage."""
        if self.rpm is None and self.tpm is None:
            return [self._clock(), float(tokens)]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while (wait := self._wait_time(self._clock(), tokens)) > 0:
                await asyncio.sleep(wait)
            entry = [self._clock(), float(tokens)]
            self._calls.append(entry)
            return entry

    @staticmethod
    def settle(entry: list[float], tokens: int) -> None:
        entry[1] = float(tokens)


def backoff_delay(attempt: int, *, base: float, max_delay: float, rng: random.Random) -> float:
    """Delay before retry ``attempt`` (0-based): exponential, capped, with 50–100% jitter."""
    cap = min(max_delay, base * (2**attempt))
    return cap * (0.5 + 0.5 * rng.random())


async def retry(
    attempt_fn: Callable[[], Awaitable[T]],
    *,
    max_retries: int = 5,
    base: float = 1.0,
    max_delay: float = 60.0,
    rng: random.Random | None = None,
    on_retry: Callable[[RetryableError, float], None] | None = None,
) -> T:
    """Run ``attempt_fn``; retry on ``RetryableError`` up to ``max_retries`` times, then give up."""
    rng = rng or random.Random()
    for n in range(max_retries + 1):
        try:
            return await attempt_fn()
        except RetryableError as exc:
            if n == max_retries:
                raise LLMError(f"gave up after {n + 1} attempts: {exc.message}") from exc
            delay = exc.retry_after
            if delay is None:
                delay = backoff_delay(n, base=base, max_delay=max_delay, rng=rng)
            if on_retry is not None:
                on_retry(exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
