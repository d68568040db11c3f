"""Run a generator over items: the async job, failed items, rejects, usage and dry-run estimates.

``generate`` is the one entry point the CLI, the pipeline ops and Python use. It returns the
generated samples in input order, the failed items (each with the task, its options, the LLM
options — never a key — the input and the reason, ready for ``sftforge generate retry``), the
samples quality rules dropped, and the usage summary. A budget stop puts every item not done
into the failed list with the reason, so nothing is lost and a rerun resumes from the cache.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field
from typing import Any

from ..llm.budget import Usage
from ..llm.client import DryRunProvider, LLMClient
from ..llm.config import LLMConfig
from ..llm.runner import RunResult
from ..llm.types import Provider
from ..sample import Sample
from .base import Generator

__all__ = ["GenerationResult", "failure_record", "generate", "generate_async"]


@dataclass
class GenerationResult:
    samples: list[Sample] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None
    estimate: dict[str, Any] | None = None  # dry runs only
    unfinished: int = 0  # the last ``unfinished`` of ``failed`` were not run (a budget stop)


def failure_record(gen: Generator, llm: LLMConfig | None, item: Any, reason: str) -> dict[str, Any]:
    """One failed item as ``sftforge generate retry`` reads it (the LLM options, never a key)."""
    return {
        "task": gen.task,
        "reason": reason,
        "options": gen.options(),
        "llm": llm.to_dict() if llm is not None else None,
        "input": gen.item_to_dict(item),
    }


async def generate_async(
    gen: Generator,
    items: list[Any],
    client: LLMClient,
    *,
    llm: LLMConfig | None = None,
    progress: bool = False,
) -> GenerationResult:
    work = gen.prepare(items)
    res: RunResult[Any, Sample] = await gen.run_all(client, work, progress=progress)
    out = GenerationResult(samples=res.outputs, stopped=res.stopped)
    out.failed = [failure_record(gen, llm, f.item, f.reason) for f in res.failures]
    why = f"not run: {res.stopped}" if res.stopped else "not run"
    out.failed += [failure_record(gen, llm, it, why) for it in res.unfinished]
    out.unfinished = len(res.unfinished)
    out.dropped = [d.to_dict(gen.task) for d in gen.sorted_drops()]
    out.summary = {"items": len(work), "samples": len(out.samples), **client.summary.to_dict()}
    if isinstance(client.provider, DryRunProvider):
        out.estimate = _estimate(gen, client, client.provider)
    return out


def _estimate(gen: Generator, client: LLMClient, dry: DryRunProvider) -> dict[str, Any]:
    calls = gen.estimate_calls(dry.calls)
    factor = calls / dry.calls if dry.calls else 0.0
    usage = Usage(
        round(dry.usage.prompt_tokens * factor), round(dry.usage.completion_tokens * factor)
    )
    return {
        "first_calls_counted": dry.calls,
        "calls": round(calls),
        "prompt_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "cost": round(client.prices.cost(client.model, usage), 6),
        "priced": client.prices.knows(client.model),
        "note": "approximate: tokens are estimated without a tokenizer and the other calls are "
        "extrapolated from the first ones",
    }


def generate(
    gen: Generator,
    items: list[Any],
    llm: LLMConfig,
    *,
    dry_run: bool = False,
    progress: bool = False,
    provider: Provider | None = None,
    transport: Any = None,
) -> GenerationResult:
    """Build the client from ``llm`` and run ``gen`` over ``items`` (see the module docstring)."""

    async def main() -> GenerationResult:
        client = llm.build_client(provider=provider, dry_run=dry_run, transport=transport)
        try:
            return await generate_async(gen, items, client, llm=llm, progress=progress)
        finally:
            await client.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # called from inside an event loop (a web handler, a notebook): run on a thread of our own
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        # the caller's context goes along (a studio run's connection check, llm.peer_check)
        context = contextvars.copy_context()
        return pool.submit(context.run, asyncio.run, main()).result()
