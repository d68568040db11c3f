"""``LLMConfig``: the options that build an ``LLMClient``, the same from YAML, the CLI and Python.

The API key is best named by its environment variable (``api_key_env``); an explicit
``api_key`` is accepted but left out of ``repr`` and ``to_dict`` (what failed-item files and run
reports keep), so it is never written or logged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecipeError
from .budget import Budget, PriceTable
from .cache import CompletionCache
from .client import DryRunProvider, LLMClient
from .limits import RateLimiter
from .refusal import RefusalDetector
from .types import Provider

__all__ = ["LLMConfig"]


@dataclass(kw_only=True)
class LLMConfig:
    """Provider, model and the mechanics around the calls. ``None`` means off / no limit."""

    provider: str = "openai"  # "openai" (any compatible base_url) or "local"
    base_url: str | None = None
    model: str = ""
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)  # prefer api_key_env; never written out
    timeout: float = 60.0
    device: str | None = None  # local provider: "cpu", "cuda", ...
    cache: str | None = ".sftforge-cache/llm.sqlite"
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    window: float = 60.0  # seconds the rpm/tpm limits are counted over
    max_retries: int = 5
    backoff_base: float = 1.0
    max_backoff: float = 60.0
    max_tokens_budget: int | None = None
    max_cost: float | None = None
    prices: dict[str, dict[str, float]] | str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, top_p...
    output_estimate: int = 512
    seed: int | None = 0
    refusal_check: bool = True  # answers like "I'm sorry, but I can't..." fail (llm/refusal.py)
    refusal_phrases: list[str] = field(default_factory=list)  # more phrases, matched anywhere

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LLMConfig:
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - valid)
        if unknown:
            raise RecipeError(
                f"llm has no option {', '.join(map(repr, unknown))}.",
                hint=f"valid options: {', '.join(sorted(valid))}",
            )
        from ..ops.options import check_options

        check_options(cls, d, "llm")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """The options without the key (this is what failed files and reports keep)."""
        out = dataclasses.asdict(self)
        out.pop("api_key")
        return out

    def price_table(self) -> PriceTable:
        if isinstance(self.prices, str):
            return PriceTable.load(self.prices)
        return PriceTable(dict(self.prices or {}))

    def build_provider(self, *, transport: Any = None) -> Provider:
        if not self.model:
            raise RecipeError(
                "no model given.", hint="pass --model NAME (or llm.model in a recipe)"
            )
        if self.provider == "openai":
            if not self.base_url:
                raise RecipeError(
                    "the openai provider needs a base URL.",
                    hint="pass --base-url, e.g. https://api.deepseek.com/v1 or http://localhost:8000/v1",
                )
            from .openai_http import OpenAIHTTPProvider

            return OpenAIHTTPProvider(
                base_url=self.base_url,
                model=self.model,
                api_key=self.api_key,
                api_key_env=self.api_key_env,
                timeout=self.timeout,
                transport=transport,
            )
        if self.provider == "local":
            from .local import LocalProvider

            return LocalProvider(self.model, device=self.device)
        raise RecipeError(f"unknown provider '{self.provider}'.", hint="use 'openai' or 'local'")

    def build_client(
        self, *, provider: Provider | None = None, dry_run: bool = False, transport: Any = None
    ) -> LLMClient:
        if dry_run:
            name = "local" if self.provider == "local" else "openai"
            provider = DryRunProvider(name, self.model, self.output_estimate)
        elif provider is None:
            provider = self.build_provider(transport=transport)
        return LLMClient(
            provider,
            cache=CompletionCache(self.cache) if self.cache else None,
            limiter=RateLimiter(rpm=self.rpm, tpm=self.tpm, window=self.window),
            budget=Budget(max_tokens=self.max_tokens_budget, max_cost=self.max_cost),
            prices=self.price_table(),
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            max_backoff=self.max_backoff,
            params=self.params,
            output_estimate=self.output_estimate,
            seed=self.seed,
            refusals=RefusalDetector(self.refusal_phrases, builtin=self.refusal_check)
            if self.refusal_check or self.refusal_phrases
            else None,
        )
