"""The render seam used by lint: conversation in, rendered text and trained character spans out.

``Renderer`` is a protocol so lint can run on any renderer: :func:`native_renderer` uses sftforge's
own sandboxed renderer and template catalogue (a name, a ``.jinja`` file, or the tokenizer's own
template; for one without ``{% generation %}`` marks the trained spans are found by rendering
prefixes, ``unmarked.py``); :func:`hf_renderer` uses transformers' ``render_jinja_template`` (imported lazily). ``trained_spans`` is ``None`` when the template has no ``{% generation %}``
marks, so nothing can be said about which tokens are trained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import MissingDependency, TemplateError

__all__ = ["Rendered", "Renderer", "hf_renderer", "native_renderer", "token_mask"]

_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(slots=True)
class Rendered:
    text: str
    trained_spans: list[tuple[int, int]] | None


class Renderer(Protocol):
    def __call__(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
    ) -> Rendered: ...


def hf_renderer(tokenizer: Any, chat_template: str | None = None) -> Renderer:
    """A renderer over ``chat_template`` (default: the tokenizer's own) with transformers' Jinja."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    if not isinstance(template, str):
        raise TemplateError(
            "the tokenizer has no chat template", hint="pass --template NAME or a .jinja file"
        )
    try:
        from transformers.utils.chat_template_utils import render_jinja_template
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependency("transformers", "chat", "Rendering a chat template") from exc
    marks = bool(_GENERATION.search(template))
    special = dict(getattr(tokenizer, "special_tokens_map", {}) or {})

    def render(
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
    ) -> Rendered:
        try:
            texts, indices = render_jinja_template(  # type: ignore[str-unpack]
                conversations=[messages],
                tools=tools,  # type: ignore[arg-type]
                chat_template=template,
                return_assistant_tokens_mask=marks,
                add_generation_prompt=add_generation_prompt,
                **special,
            )
        except Exception as exc:  # template errors are user input, not bugs
            raise TemplateError(f"the chat template failed to render: {exc}") from exc
        spans = [tuple(s) for s in indices[0]] if marks and indices else None
        return Rendered(texts[0], spans)  # type: ignore[arg-type]

    return render


def native_renderer(tokenizer: Any, template: str | None = None) -> Renderer:
    """A renderer over the native catalogue: ``template`` is a name, a ``.jinja`` path, or ``None``
    for the tokenizer's own ``chat_template``."""
    from .encode import special_texts, special_tokens_of
    from .render import render_messages, text_renderer
    from .templates import resolve_template
    from .unmarked import NotPrefixStable, trailer_of, turn_blocks

    tpl = resolve_template(template, tokenizer)
    special = special_tokens_of(tokenizer)
    specials = special_texts(tokenizer)
    trailer = "" if tpl.has_marks else trailer_of(text_renderer(tpl, special_tokens=special))

    def render(
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
    ) -> Rendered:
        if not tpl.has_marks and not add_generation_prompt:
            # trained spans found by rendering prefixes; None when the template is not
            # prefix-stable here (the template facts say where)
            fn = text_renderer(tpl, tools=tools, special_tokens=special)
            try:
                text, blocks = turn_blocks(messages, fn, None, trailer, specials)
            except NotPrefixStable:
                return Rendered(fn(messages, False), None)
            return Rendered(text, blocks)
        text, spans = render_messages(
            messages,
            tpl,
            tools=tools,
            special_tokens=special,
            add_generation_prompt=add_generation_prompt,
        )
        return Rendered(text, spans if tpl.has_marks else None)

    return render


def token_mask(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for tokens whose first character lies inside a trained span (spans sorted, disjoint)."""
    mask = []
    j = 0
    for start, _end in offsets:
        while j < len(spans) and spans[j][1] <= start:
            j += 1
        mask.append(1 if j < len(spans) and spans[j][0] <= start < spans[j][1] else 0)
    return mask
