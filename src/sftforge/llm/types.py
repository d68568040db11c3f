"""The provider protocol and what a call returns.

A provider turns chat messages (``[{"role": ..., "content": ...}]``) into a ``Completion``. It does
one attempt and nothing else: caching, rate limits, retries and budgets live in ``LLMClient``.
Providers signal a failure worth retrying (429, 5xx, timeout) with ``RetryableError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import LLMError

__all__ = ["ChatMessages", "Completion", "Provider", "RetryableError", "Usage"]

ChatMessages = list[dict[str, Any]]


@dataclass(slots=True)
class Usage:
    """Tokens spent by one call (or summed over many)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Usage:
        d = d or {}
        return cls(int(d.get("prompt_tokens") or 0), int(d.get("completion_tokens") or 0))


@dataclass(slots=True)
class Completion:
    """One answer: ``text`` without any reasoning block, ``reasoning`` apart, and the raw reply."""

    text: str
    reasoning: str | None = None
    usage: Usage = field(default_factory=Usage)
    raw: Any = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "usage": self.usage.to_dict(),
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, cached: bool = False) -> Completion:
        return cls(
            text=d["text"],
            reasoning=d.get("reasoning"),
            usage=Usage.from_dict(d.get("usage")),
            raw=d.get("raw"),
            cached=cached,
        )


class RetryableError(LLMError):
    """A failed attempt that may succeed later: HTTP 429/5xx, a timeout, a dropped connection."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@runtime_checkable
class Provider(Protocol):
    """Anything that answers chat messages. ``name``+``model`` take part in the cache key."""

    name: str
    model: str

    async def complete(self, messages: ChatMessages, **params: Any) -> Completion: ...

    async def aclose(self) -> None: ...
