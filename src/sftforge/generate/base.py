"""What every generator shares: options, the LLM call helpers, meta for generated samples.

A generator is a dataclass (keyword-only options) with ``process(client, item)``, an async
function that turns one input item (a Sample, a document chunk, an instruction...) into output
Samples. It raises ``LLMError`` when the item cannot be done (the item then goes to the failed
file, never an empty row) and calls ``self.drop(sample, reason)`` for outputs its quality rules
eliminate (they go to the rejects file). ``input_kind`` says what the items are, so failed
items can be read back by ``sftforge generate retry``.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from ..errors import RecipeError
from ..llm.client import LLMClient
from ..llm.runner import RunResult, run_items
from ..llm.types import ChatMessages, Completion
from ..ops.options import check_options
from ..sample import Message, Sample
from .prompts import Prompts, detect_lang

__all__ = [
    "GENERATORS",
    "Dropped",
    "Generator",
    "build_generator",
    "llm_meta",
    "register_generator",
]


# the input position of the item being processed, so drops can be listed in input order
_ITEM_INDEX: contextvars.ContextVar[int] = contextvars.ContextVar("item_index", default=-1)


@dataclass(slots=True)
class Dropped:
    """An output a quality rule eliminated, with the reason (written to the rejects file)."""

    sample: Sample
    reason: str
    value: Any = None
    order: int = -1

    def to_dict(self, op: str) -> dict[str, Any]:
        out: dict[str, Any] = {"op": op, "reason": self.reason}
        if self.value is not None:
            out["value"] = self.value
        out["sample"] = self.sample.to_dict()
        return out


def llm_meta(
    generator: str, client: LLMClient, prompt: ChatMessages, comp: Completion, **extra: Any
) -> dict[str, Any]:
    """The meta every LLM-made sample carries: who made it and the raw prompt and response."""
    raw = comp.raw.get("content") if isinstance(comp.raw, dict) else None
    return {
        "answer_from": "llm",
        "human_verified": False,
        "generator": generator,
        "llm": {
            "provider": client.provider.name,
            "model": client.model,
            "prompt": prompt,
            "response": raw if raw is not None else comp.text,
            "usage": comp.usage.to_dict(),
        },
        **extra,
    }


@dataclass(kw_only=True)
class Generator:
    """Base: ``lang`` (``auto``, ``en``, ``zh``), a prompts override file, extra call params."""

    task: ClassVar[str] = "generator"
    input_kind: ClassVar[str] = "sample"  # sample | document | chunk | instruction | seed
    calls_per_item: ClassVar[float] = 1.0  # for --dry-run estimates of later stages

    lang: str = "auto"
    prompts: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lang not in ("auto", "en", "zh"):
            raise RecipeError(f"lang must be auto, en or zh, not {self.lang!r}")
        self._prompts = Prompts(self.prompts)
        self.dropped: list[Dropped] = []

    def calls_estimate(self) -> float:
        """Calls per work item, for --dry-run: only each item's first call is counted."""
        return self.calls_per_item

    def estimate_calls(self, counted: int) -> float:
        """All the calls a job would make, from the first calls a dry run counted."""
        return counted * self.calls_estimate()

    def options(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def lang_for(self, text: str) -> str:
        return detect_lang(text) if self.lang == "auto" else self.lang

    def render(self, name: str, lang: str, **values: object) -> str:
        return self._prompts.render(name, lang, **values)

    def drop(self, sample: Sample, reason: str, value: Any = None) -> None:
        self.dropped.append(Dropped(sample, reason, value, _ITEM_INDEX.get()))

    def sorted_drops(self) -> list[Dropped]:
        """Drops in input order, whatever order the concurrent items finished in."""
        return sorted(self.dropped, key=lambda d: d.order)

    def worker(
        self, client: LLMClient, items: list[Any]
    ) -> Callable[[Any], Awaitable[list[Sample]]]:
        """``process`` bound to ``client``, remembering each item's position for drops."""
        where = {id(it): i for i, it in enumerate(items)}

        async def work(item: Any) -> list[Sample]:
            _ITEM_INDEX.set(where.get(id(item), -1))
            return await self.process(client, item)

        return work

    async def ask(
        self, client: LLMClient, user: str, *, system: str | None = None, **params: Any
    ) -> tuple[ChatMessages, Completion]:
        msgs: ChatMessages = [{"role": "system", "content": system}] if system else []
        msgs.append({"role": "user", "content": user})
        return msgs, await client.complete(msgs, **{**self.params, **params})

    async def ask_json(
        self, client: LLMClient, user: str, schema: dict[str, Any], lang: str, **params: Any
    ) -> tuple[Any, ChatMessages, Completion]:
        msgs: ChatMessages = [{"role": "user", "content": user}]
        value, comp = await client.complete_json(
            msgs, schema, lang=lang, **{**self.params, **params}
        )
        return value, msgs, comp

    async def process(self, client: LLMClient, item: Any) -> list[Sample]:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, items: list[Any]) -> list[Any]:
        """Turn the inputs into work items (chunks, groups...); by default one per input."""
        return items

    async def run_all(
        self, client: LLMClient, items: list[Any], *, progress: bool = False
    ) -> RunResult[Any, Sample]:
        """Process every item concurrently; self-instruct overrides this with its rounds."""

        return await run_items(
            items,
            self.worker(client, items),
            concurrency=client.concurrency,
            progress=progress,
            label=self.task,
            usage=client.usage,
        )

    # how items of ``input_kind`` are written to / read from failed files
    def item_to_dict(self, item: Any) -> dict[str, Any]:
        return item.to_dict() if hasattr(item, "to_dict") else dict(item)

    def item_from_dict(self, d: dict[str, Any]) -> Any:
        return Sample.from_dict(d) if self.input_kind == "sample" else d


GENERATORS: dict[str, type[Generator]] = {}


def register_generator(cls: type[Generator]) -> type[Generator]:
    GENERATORS[cls.task] = cls
    return cls


def build_generator(task: str, options: dict[str, Any] | None = None) -> Generator:
    """A generator by task name; unknown names or options fail with the valid ones."""
    cls = GENERATORS.get(task)
    if cls is None:
        raise RecipeError(
            f"unknown generation task '{task}'.",
            hint=f"use one of: {', '.join(sorted(GENERATORS))}",
        )
    valid = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(options or {}) - valid)
    if unknown:
        raise RecipeError(
            f"task '{task}' has no option {', '.join(map(repr, unknown))}.",
            hint=f"valid options: {', '.join(sorted(valid))}",
        )
    check_options(cls, options or {}, f"task '{task}'")
    try:
        return cls(**(options or {}))
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"task '{task}': {exc}") from exc


def conversation_text(messages: list[Message]) -> str:
    """A conversation as plain text for judge prompts: ``[role]`` headers and contents."""
    parts = []
    for m in messages:
        text = m.content
        for tc in m.tool_calls or []:
            args = orjson.dumps(tc.arguments).decode()
            text += f"{chr(10) if text else ''}(calls {tc.name}({args}))"
        parts.append(f"[{m.role}]\n{text}")
    return "\n\n".join(parts)
