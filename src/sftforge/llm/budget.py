"""Token and cost budgets, a price table, usage summaries and cost estimates.

``Budget`` is checked before each call that would reach the provider (cached answers are free):
a call is refused with ``BudgetExceeded`` when the tokens (or money) already spent plus those
reserved by calls in flight plus this call's estimate would pass the limit. So a job stops
cleanly, before the limit, with everything finished so far kept and cached for a resume.

Prices are per million tokens, ``{model: {"input": x, "output": y}}``; a model missing from the
table costs 0 (the summary says so), and a cost limit then can only be enforced on known models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from ..errors import BudgetExceeded, RecipeError
from .types import Usage

__all__ = ["Budget", "PriceTable", "UsageSummary", "estimate_messages_tokens", "estimate_tokens"]

_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")


def estimate_tokens(text: str) -> int:
    """A rough token count with no tokenizer: one per CJK character, one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def estimate_messages_tokens(messages: list[dict[str, Any]]) -> int:
    """Tokens of a chat prompt: the texts plus a few per turn for the template's markers."""
    return sum(estimate_tokens(str(m.get("content") or "")) + 4 for m in messages) + 2


@dataclass
class PriceTable:
    """USD (or any currency) per million input/output tokens, by model name."""

    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise RecipeError(
                "a price table maps model names to {input: ..., output: ...} per million tokens.",
                file=str(path),
            )
        return cls({str(k): {kk: float(vv) for kk, vv in v.items()} for k, v in data.items()})

    def knows(self, model: str) -> bool:
        return model in self.prices

    def cost(self, model: str, usage: Usage) -> float:
        p = self.prices.get(model)
        if not p:
            return 0.0
        return (
            usage.prompt_tokens * p.get("input", 0.0)
            + usage.completion_tokens * p.get("output", 0.0)
        ) / 1_000_000


@dataclass
class UsageSummary:
    """What a job spent: calls sent, answers from cache, retries, failures, tokens, cost."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "failures": self.failures,
            **self.usage.to_dict(),
            "total_tokens": self.usage.total_tokens,
            "cost": round(self.cost, 6),
        }


@dataclass
class Budget:
    """Limits on tokens and/or cost for one job; ``None`` means no limit."""

    max_tokens: int | None = None
    max_cost: float | None = None
    spent_tokens: int = 0
    spent_cost: float = 0.0
    _reserved_tokens: int = 0
    _reserved_cost: float = 0.0

    def reserve(self, tokens: int, cost: float) -> None:
        """Claim room for a call about to be sent, or raise ``BudgetExceeded``."""
        if self.max_tokens is not None and (
            self.spent_tokens + self._reserved_tokens + tokens > self.max_tokens
        ):
            raise BudgetExceeded(
                f"token budget of {self.max_tokens} reached ({self.spent_tokens} spent).",
                hint="rerun with a larger token budget (--max-tokens-budget; eval: --judge-max-tokens-budget; "
                "a recipe: llm.max_tokens_budget): finished calls come from the cache",
            )
        if self.max_cost is not None and (
            self.spent_cost + self._reserved_cost + cost > self.max_cost
        ):
            raise BudgetExceeded(
                f"cost budget of {self.max_cost:g} reached ({self.spent_cost:.4f} spent).",
                hint="rerun with a larger cost budget (--max-cost; eval: --judge-max-cost; "
                "a recipe: llm.max_cost): finished calls come from the cache",
            )
        self._reserved_tokens += tokens
        self._reserved_cost += cost

    def release(self, tokens: int, cost: float) -> None:
        self._reserved_tokens -= tokens
        self._reserved_cost -= cost

    def spend(self, tokens: int, cost: float) -> None:
        self.spent_tokens += tokens
        self.spent_cost += cost
