"""The built-in catalogue of chat templates, and how a template is chosen.

Each template is a Jinja file in this folder that we wrote, with ``{% generation %}`` marks around
exactly what is trained: the assistant's answer (its reasoning and tool calls too where the
template renders them) and the end-of-turn token. System, user and tool text is never inside a
mark. A template is chosen by name (``get_template``), or taken from a tokenizer's own
``chat_template`` (``resolve_template``); an unknown name fails with the list of valid ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ...errors import TemplateError

__all__ = [
    "ALIASES",
    "TEMPLATE_NAMES",
    "ChatTemplate",
    "get_template",
    "has_generation_marks",
    "resolve_template",
    "template_names",
]


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    """A Jinja chat template plus the extra variables it is rendered with (e.g. enable_thinking)."""

    name: str
    source: str
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def has_marks(self) -> bool:
        return has_generation_marks(self.source)


# name -> (file stem, extra render variables)
_CATALOGUE: dict[str, tuple[str, dict[str, Any]]] = {
    "chatml": ("chatml", {}),
    "qwen2.5": ("qwen2.5", {}),
    "qwen3": ("qwen3", {"enable_thinking": True}),
    "qwen3-nothink": ("qwen3", {"enable_thinking": False}),
    "llama2": ("llama2", {}),
    "llama3": ("llama3", {}),
    "internlm2": ("internlm2", {}),
    "chatglm3": ("chatglm3", {}),
    "mistral": ("mistral", {}),
    "vicuna": ("vicuna", {}),
    "alpaca": ("alpaca", {}),
    "default": ("default", {}),
}
ALIASES: dict[str, str] = {"qwen2": "qwen2.5", "qwen": "qwen2.5", "llama3.1": "llama3"}
TEMPLATE_NAMES: tuple[str, ...] = tuple(_CATALOGUE)
_GENERATION_RE = re.compile(r"\{%-?\s*generation\s*-?%\}")


def template_names() -> list[str]:
    """Every name ``get_template`` accepts, aliases included, sorted."""
    return sorted([*_CATALOGUE, *ALIASES])


def has_generation_marks(source: str) -> bool:
    return _GENERATION_RE.search(source) is not None


def _read(stem: str) -> str:
    return resources.files(__name__).joinpath(f"{stem}.jinja").read_text(encoding="utf-8")


def get_template(name: str, **variables: Any) -> ChatTemplate:
    """A built-in template by name (``qwen2`` and other aliases accepted); extra ``variables``
    override the template's own (e.g. ``enable_thinking=False``)."""
    key = ALIASES.get(name, name)
    if key not in _CATALOGUE:
        raise TemplateError(
            f"unknown chat template '{name}'.",
            field="template",
            hint=f"use one of: {', '.join(template_names())}, a .jinja file, or leave it out "
            "to use the tokenizer's own chat_template",
        )
    stem, defaults = _CATALOGUE[key]
    return ChatTemplate(key, _read(stem), {**defaults, **variables})


def resolve_template(name: str | None, tokenizer: Any = None, **variables: Any) -> ChatTemplate:
    """``name`` (built-in or a path to a ``.jinja`` file), else the tokenizer's ``chat_template``."""
    if name is not None and name.endswith(".jinja"):
        path = Path(name)
        if not path.is_file():
            raise TemplateError(f"template file '{name}' does not exist.", field="template")
        return ChatTemplate(path.stem, path.read_text(encoding="utf-8"), dict(variables))
    if name is not None:
        return get_template(name, **variables)
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, dict):  # several named templates: take the default one
        own = own.get("default")
    if not own:
        raise TemplateError(
            "the tokenizer has no chat_template.",
            field="template",
            hint=f"pass --template NAME (one of: {', '.join(template_names())})",
        )
    return ChatTemplate("tokenizer", str(own), dict(variables))
