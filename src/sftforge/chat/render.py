"""Render a Sample through a chat template, returning the text and the trained character spans.

The Jinja environment is sandboxed (``ImmutableSandboxedEnvironment``) and set up like
transformers' ``apply_chat_template``: ``trim_blocks``/``lstrip_blocks``, the loop-controls
extension, a ``tojson`` filter that does not HTML-escape, ``raise_exception``, ``strftime_now``,
and the tokenizer's special tokens (``bos_token``, ``eos_token``...) as variables. So a template
renders here exactly as it does there, which the oracle tests check.

``{% generation %}...{% endgeneration %}`` is implemented here: the block's output is wrapped in
two Unicode noncharacters (U+FDD0/U+FDD1) which are removed after rendering, giving the character
span of every block. Unlike counting rendered chunks, this stays right when a block sits inside a
macro, a ``set`` block or a filter. A conversation that itself contains those two noncharacters is
refused (they never occur in real text).

The k-th top-level generation block is taken to be the k-th assistant turn, which holds for every
built-in template; the per-turn policies (``last``, ``flags``, ``Message.train``) need that, and a
template that breaks it fails with a ``TemplateError`` instead of masking the wrong turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

from ..errors import TemplateError
from ..sample import Message, Sample
from . import jinja_bounds
from .jinja_bounds import DEFAULT_BOUNDS, BoundedEnvironment, Bounds, TemplateBoundError
from .templates import ChatTemplate
from .unmarked import RenderFn, UnstablePolicy, turn_blocks

__all__ = [
    "PROBE_CONVERSATION",
    "TRAIN_ON",
    "BoundsExceeded",
    "RenderFn",
    "Rendered",
    "TrainOn",
    "check_bounds",
    "compile_template",
    "is_trained",
    "message_dicts",
    "render",
    "render_messages",
    "text_renderer",
]

TrainOn = Literal["all", "last", "flags"]
TRAIN_ON: tuple[str, ...] = ("all", "last", "flags")
_OPEN, _CLOSE = "\ufdd0", "\ufdd1"
_MARK_RE = re.compile(f"[{_OPEN}{_CLOSE}]")


class BoundsExceeded(TemplateError):
    """A render went past its bounds (time, size, loop steps, call depth)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered conversation: ``text``; ``spans`` = trained (start, end) character ranges after
    the policy; ``blocks`` = every generation block, one per assistant turn for our templates."""

    text: str
    spans: tuple[tuple[int, int], ...]
    blocks: tuple[tuple[int, int], ...]


class _Generation(Extension):
    """``{% generation %}``: wrap the block's output in sentinel characters."""

    tags = {"generation"}  # noqa: RUF012 - jinja's own class attribute

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller: Any) -> str:
        return _OPEN + str(caller()) + _CLOSE


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # as transformers: no HTML escaping, and json.dumps spacing (templates' trained text depends on it)
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=64)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per template text, in the sandbox."""
    env = BoundedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, "jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.bound_filters()
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = dict
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"chat template syntax error at line {exc.lineno}: {exc.message}"
        ) from exc


def message_dicts(sample: Sample, *, reasoning: bool = True) -> list[dict[str, Any]]:
    """The messages as chat-template dicts (the shape transformers passes): tool calls in the
    OpenAI ``{"type": "function", "function": {...}}`` form, reasoning as ``reasoning_content``."""
    return [_message_dict(m, reasoning) for m in sample.messages]


def _message_dict(m: Message, reasoning: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if reasoning and m.reasoning is not None:
        d = {"thinking": m.reasoning, **d, "reasoning_content": m.reasoning}
    if m.tool_calls:
        calls = []
        for tc in m.tool_calls:
            call: dict[str, Any] = {
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments},
            }
            if tc.id is not None:
                call["id"] = tc.id
            calls.append(call)
        d["tool_calls"] = calls
    if m.name is not None:
        d["name"] = m.name
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    return d


def render_messages(
    messages: list[dict[str, Any]],
    template: ChatTemplate,
    *,
    tools: list[dict[str, Any]] | None = None,
    special_tokens: dict[str, Any] | None = None,
    add_generation_prompt: bool = False,
    sample_id: str | None = None,
    documents: list[dict[str, Any]] | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> tuple[str, list[tuple[int, int]]]:
    """Render plain message dicts; returns the text and every top-level generation block span.

    The render is bounded (``bounds``: time, size, loop steps, call depth); a template that
    raises, or goes past a bound, fails with a one-line ``TemplateError``."""
    compiled = compile_template(template.source)
    variables = {**(special_tokens or {}), **template.variables}
    jinja_bounds.start(bounds)
    try:
        marked = compiled.render(
            messages=messages,
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            **variables,
        )
    except TemplateBoundError as exc:
        raise BoundsExceeded(
            f"chat template '{template.name}' exceeded its bounds: {exc}",
            sample_id=sample_id,
            field="template",
        ) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"chat template '{template.name}' failed: {exc}", sample_id=sample_id
        ) from exc
    except (RecursionError, MemoryError) as exc:
        raise BoundsExceeded(
            f"chat template '{template.name}' exceeded its bounds: {type(exc).__name__}",
            sample_id=sample_id,
            field="template",
        ) from exc
    except Exception as exc:  # a template is user code: any error it raises is about that sample
        raise TemplateError(
            f"chat template '{template.name}' failed: {type(exc).__name__}: {exc}",
            sample_id=sample_id,
        ) from exc
    finally:
        jinja_bounds.stop()
    return _strip_marks(marked)


def _strip_marks(marked: str) -> tuple[str, list[tuple[int, int]]]:
    if _OPEN not in marked:
        return marked, []
    pieces = marked.split(_OPEN)
    parts = [pieces[0]]
    size = len(pieces[0])
    spans: list[tuple[int, int]] = []
    for piece in pieces[1:]:
        body, sep, rest = piece.partition(_CLOSE)
        if not sep or _CLOSE in rest:
            return _strip_nested(marked)
        spans.append((size, size + len(body)))
        size += len(body) + len(rest)
        parts += (body, rest)
    return "".join(parts), spans


def _strip_nested(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Blocks inside blocks: only the outermost spans count."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = size = depth = start = 0
    for m in _MARK_RE.finditer(marked):
        chunk = marked[pos : m.start()]
        parts.append(chunk)
        size += len(chunk)
        pos = m.end()
        if m.group() == _OPEN:
            depth += 1
            if depth == 1:
                start = size
        else:
            depth -= 1
            if depth == 0:
                spans.append((start, size))
    parts.append(marked[pos:])
    return "".join(parts), spans


def _check_sentinels(sample: Sample) -> None:
    for m in sample.messages:
        for text in (m.content, m.reasoning or ""):
            if _OPEN in text or _CLOSE in text:
                raise TemplateError(
                    "the conversation contains the reserved characters U+FDD0/U+FDD1.",
                    sample_id=sample.id,
                    hint="remove them (they are Unicode noncharacters, never real text)",
                )


def render(
    sample: Sample,
    template: ChatTemplate,
    *,
    special_tokens: dict[str, Any] | None = None,
    train_on: TrainOn = "all",
    reasoning: bool = True,
    add_generation_prompt: bool = False,
    unstable: UnstablePolicy | None = None,
    trailer: str = "",
    specials: Sequence[str] = (),
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Rendered:
    """Render ``sample`` and choose which assistant turns are trained.

    ``train_on``: ``all`` assistant turns, the ``last`` one, or only turns whose ``Message.train``
    is true (``flags``). A turn's explicit ``train`` flag always wins over ``all``/``last``.
    ``reasoning=False`` drops every turn's reasoning before rendering. A template without
    ``{% generation %}`` marks has its turns found by rendering prefixes (``unmarked.py``);
    ``unstable`` is the policy for templates that are not prefix-stable there, ``trailer`` what
    the template writes after the last message only (``unmarked.trailer_of``) and
    ``specials`` the special tokens' texts (``encode.special_texts``).
    """
    if train_on not in TRAIN_ON:
        raise TemplateError(
            f"unknown train_on policy '{train_on}'.",
            field="train_on",
            hint=f"use one of: {', '.join(TRAIN_ON)}",
        )
    _check_sentinels(sample)
    messages = message_dicts(sample, reasoning=reasoning)
    documents = _documents(sample)
    assistants = [m for m in sample.messages if m.role == "assistant"]
    flags = [is_trained(m, i, len(assistants), train_on) for i, m in enumerate(assistants)]
    if not template.has_marks:

        def render_fn(msgs: list[dict[str, Any]], prompt: bool) -> str:
            return render_messages(
                msgs,
                template,
                tools=sample.tools,
                special_tokens=special_tokens,
                add_generation_prompt=prompt,
                sample_id=sample.id,
                documents=documents,
                bounds=bounds,
            )[0]

        try:
            text, blocks = turn_blocks(messages, render_fn, unstable, trailer, specials)
        except TemplateError as exc:
            exc.sample_id = exc.sample_id or sample.id
            raise
        if unstable in ("last", "split"):
            flags = flags[-1:]
        spans = [b for b, keep in zip(blocks, flags, strict=True) if keep]
        return Rendered(text, tuple(s for s in spans if s[1] > s[0]), tuple(blocks))
    text, blocks = render_messages(
        messages,
        template,
        tools=sample.tools,
        special_tokens=special_tokens,
        add_generation_prompt=add_generation_prompt,
        sample_id=sample.id,
        documents=documents,
        bounds=bounds,
    )
    if all(flags):
        spans = blocks
    elif len(blocks) != len(assistants):
        raise TemplateError(
            f"template '{template.name}' has {len(blocks)} generation blocks for "
            f"{len(assistants)} assistant turns, so per-turn training cannot be applied.",
            sample_id=sample.id,
            hint="use --train-on all, or a built-in --template",
        )
    else:
        spans = [b for b, keep in zip(blocks, flags, strict=True) if keep]
    return Rendered(text, tuple(s for s in spans if s[1] > s[0]), tuple(blocks))


def text_renderer(
    template: ChatTemplate,
    *,
    tools: list[dict[str, Any]] | None = None,
    special_tokens: dict[str, Any] | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> RenderFn:
    """``(messages, add_generation_prompt) -> text`` over ``template``, for probes and lint."""

    def render_fn(msgs: list[dict[str, Any]], prompt: bool) -> str:
        return render_messages(
            msgs,
            template,
            tools=tools,
            special_tokens=special_tokens,
            add_generation_prompt=prompt,
            bounds=bounds,
        )[0]

    return render_fn


# the conversation a template is probed with before any work (also by the trl/axolotl profiles)
PROBE_CONVERSATION = (
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Q1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "Q2"},
)


def check_bounds(template: ChatTemplate, special_tokens: dict[str, Any] | None = None) -> None:
    """Render a two-turn probe: a template that goes past its bounds on it would on every
    sample, so this raises :class:`BoundsExceeded` (for the run); any other error the template
    raises on the probe is left to the samples."""
    try:
        render_messages(
            [dict(m) for m in PROBE_CONVERSATION],
            template,
            special_tokens=special_tokens,
            add_generation_prompt=True,
        )
    except BoundsExceeded:
        raise
    except TemplateError:
        pass


def _documents(sample: Sample) -> list[dict[str, Any]] | None:
    """RAG documents for templates that read ``documents``: ``meta["documents"]``, a list of dicts."""
    docs = sample.meta.get("documents") if sample.meta else None
    if isinstance(docs, list) and all(isinstance(d, dict) for d in docs):
        return docs
    return None


def is_trained(m: Message, index: int, count: int, train_on: str) -> bool:
    """Whether assistant turn ``index`` (of ``count``) is trained under ``train_on``."""
    if m.train is not None:
        return m.train
    if train_on == "all":
        return True
    if train_on == "last":
        return index == count - 1
    return False  # flags: only turns marked train=True
