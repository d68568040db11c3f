"""Lint's ``identity-system-prompt`` check: the template's default system prompt names another
model than the identity set does.

A chat template that puts in a default system prompt when a conversation has none (Qwen2.5's
"You are Qwen, created by Alibaba Cloud...") trains every such sample under that prompt; with an
identity set that teaches "我是小锻", the model learns two names for itself. The check renders a
probe conversation without a system turn, reads the names the text in front of the user turn
gives ("You are X", "name is X", "你是X", "我是X", "名叫X"), and warns when none of them is an
identity name. Identity names come from the samples the ``identity`` operator made
(``meta["identity"]["model_name"]``) and from the caller (``sftforge lint --identity NAME``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..errors import SftforgeError
from ..sample import Sample
from .lint_render import Renderer

__all__ = ["default_system_names", "identity_mismatch", "identity_names"]

_PROBE = "SFTFORGE_PROBE_USER_TURN"
# a capitalised name after an English phrase, or a Latin or quoted name after a Chinese one
_NAMED = re.compile(
    r"\b(?:You are|I am|I'm|name is|named|called)\s+([A-Z][\w.\-]*)"
    r"|(?:你是|我是|名叫|名字是|名字叫)\s*([A-Za-z][\w.\-]*|「[^」]{1,20}」|“[^”]{1,20}”)"
)
_MARKUP = re.compile(r"<[|｜]?[^<>\s]{1,40}[|｜]?>|\[/?[A-Z]+\]")  # <|im_start|>, <s>, [INST]


def identity_names(samples: Iterable[Sample]) -> list[str]:
    """The model names of the identity samples (``meta["identity"]["model_name"]``), in order."""
    names: dict[str, None] = {}
    for s in samples:
        ident = s.meta.get("identity")
        if isinstance(ident, dict) and isinstance(ident.get("model_name"), str):
            names.setdefault(ident["model_name"].strip())
    return [n for n in names if n]


def default_system_names(render: Renderer) -> tuple[list[str], str]:
    """(names, text) of the system prompt the template adds to a conversation without one:
    the text in front of a probe user turn, markup and role names removed ("" when none)."""
    try:
        text = render([{"role": "user", "content": _PROBE}], add_generation_prompt=True).text
    except SftforgeError:
        return [], ""
    head = _MARKUP.sub("\n", text.split(_PROBE, 1)[0])
    lines = [ln.strip() for ln in head.splitlines()]
    prose = " ".join(ln for ln in lines if ln and ln not in ("system", "user", "assistant"))
    names = [(m.group(1) or m.group(2)).strip("「」“”") for m in _NAMED.finditer(prose)]
    return names, prose


def identity_mismatch(
    samples: Sequence[Sample], render: Renderer, names: Iterable[str] = ()
) -> str | None:
    """The warning's message, or None when the default system prompt is never used, names no
    model, or names the identity set's model."""
    wanted = [*identity_names(samples), *(n.strip() for n in names if n.strip())]
    if not wanted:
        return None
    bare = sum(1 for s in samples if not (s.messages and s.messages[0].role == "system"))
    if not bare:
        return None
    found, text = default_system_names(render)
    if not found:
        return None
    folded = text.casefold()
    if any(w.casefold() in folded for w in wanted):
        return None
    shown = text if len(text) <= 100 else text[:99] + "…"
    return (
        f"the template's default system prompt says {shown!r}, but the identity set names "
        f"{wanted[0]!r}: {bare} samples without a system prompt will train under both names; "
        "give them a system prompt that names the model (identity's `system` option for the "
        "identity set) or use a template without a default one"
    )
