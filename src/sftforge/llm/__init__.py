"""LLM providers and the mechanics around every call.

Providers: ``OpenAIHTTPProvider`` (any OpenAI-compatible ``base_url``) and ``LocalProvider`` (a
local ``transformers`` model). ``LLMClient`` adds the SQLite cache, rate limits, retries with
backoff, budgets and a usage summary; ``LLMConfig`` builds one from YAML/CLI options;
``run_items`` runs a job over many items with failures and clean budget stops.
"""

from __future__ import annotations

from .budget import Budget, PriceTable, UsageSummary, estimate_messages_tokens, estimate_tokens
from .cache import CompletionCache, cache_key
from .client import DryRunProvider, DryRunStop, LLMClient
from .config import LLMConfig
from .jsonout import JSONOutputError, parse_json_output, repair_json_text, validate_schema
from .limits import RateLimiter, backoff_delay, retry
from .local import LocalProvider
from .openai_http import OpenAIHTTPProvider, redact
from .reasoning import split_reasoning
from .retry_after import parse_retry_after
from .runner import ItemFailure, RunResult, run_items
from .types import ChatMessages, Completion, Provider, RetryableError, Usage

__all__ = [
    "Budget",
    "ChatMessages",
    "Completion",
    "CompletionCache",
    "DryRunProvider",
    "DryRunStop",
    "ItemFailure",
    "JSONOutputError",
    "LLMClient",
    "LLMConfig",
    "LocalProvider",
    "OpenAIHTTPProvider",
    "PriceTable",
    "Provider",
    "RateLimiter",
    "RetryableError",
    "RunResult",
    "Usage",
    "UsageSummary",
    "backoff_delay",
    "cache_key",
    "estimate_messages_tokens",
    "estimate_tokens",
    "parse_json_output",
    "parse_retry_after",
    "redact",
    "repair_json_text",
    "retry",
    "run_items",
    "split_reasoning",
    "validate_schema",
]
