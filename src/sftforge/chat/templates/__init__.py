"""The built-in catalogue of chat templates, and how a template is chosen.

Each template is a Jinja file in this folder that we wrote, with ``{% generation %}`` marks around
exactly what is trained: the assistant's answer (its reasoning and tool calls too where the
template renders them) and the end-of-turn token. System, user and tool text is never inside a
mark. A template is chosen by name (``get_template``), or taken from a tokenizer's own
``chat_template`` (``resolve_template``); an unknown name fails with the list of valid ones.
"""

from __future__ import annotations

import json
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
    """The template ``name`` names:

    * a built-in name (``chatml``, ``qwen3``...);
    * ``tokenizer`` (also when ``name`` is None): the tokenizer's own ``chat_template``, or
      ``tokenizer:NAME`` for one of its named templates (the list form of
      ``tokenizer_config.json``, e.g. ``tokenizer:tool_use``); transformers also reads a
      ``chat_template.jinja`` saved beside the config;
    * a file: a ``.jinja`` template, a ``tokenizer_config.json``, a ``.gguf`` model (its
      ``tokenizer.chat_template``), or a tokenizer folder (its ``chat_template.jinja`` or
      config), optionally ``PATH:NAME`` for a named template in it.
    """
    if name is None or name == "tokenizer" or name.startswith("tokenizer:"):
        wanted = name.partition(":")[2] if name else ""
        return _own_template(getattr(tokenizer, "chat_template", None), wanted, variables)
    if name in _CATALOGUE or name in ALIASES:
        return get_template(name, **variables)
    path, wanted = Path(name), ""
    if not path.exists() and ":" in name:
        head, _, wanted = name.rpartition(":")
        path = Path(head)
    if path.exists():
        return _file_template(path, wanted, variables)
    if name.endswith((".jinja", ".gguf", ".json")):
        raise TemplateError(f"template file '{name}' does not exist.", field="template")
    return get_template(name, **variables)  # unknown: fails with the list of names


def _own_template(
    own: Any, wanted: str, variables: dict[str, Any], where: str = "the tokenizer"
) -> ChatTemplate:
    if isinstance(own, list):  # tokenizer_config.json's list form: [{"name", "template"}]
        own = {d.get("name"): d.get("template") for d in own if isinstance(d, dict)}
    if isinstance(own, dict):
        if wanted and wanted not in own:
            raise TemplateError(
                f"{where} has no chat template named '{wanted}'.",
                field="template",
                hint=f"use one of: {', '.join(sorted(str(k) for k in own))}",
            )
        own = own.get(wanted or "default")
    elif wanted:
        raise TemplateError(f"{where} has no named chat templates.", field="template")
    if not isinstance(own, str) or not own:
        raise TemplateError(
            f"{where} has no chat_template.",
            field="template",
            hint=f"pass --template NAME (one of: {', '.join(template_names())}) or a .jinja file",
        )
    return ChatTemplate("tokenizer" + (f":{wanted}" if wanted else ""), own, dict(variables))


def _file_template(path: Path, wanted: str, variables: dict[str, Any]) -> ChatTemplate:
    where = f"'{path}'"
    if path.is_dir():
        beside = path / "chat_template.jinja"
        if beside.is_file() and not wanted:
            return ChatTemplate("tokenizer", beside.read_text(encoding="utf-8"), dict(variables))
        path = path / "tokenizer_config.json"
    if path.suffix == ".gguf":
        from .gguf import gguf_chat_templates

        return _own_template(gguf_chat_templates(path), wanted, variables, where)
    if path.suffix == ".json":
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TemplateError(
                f"cannot read {where}: {exc}", file=str(path), field="chat_template"
            ) from exc
        own = config.get("chat_template") if isinstance(config, dict) else None
        return _own_template(own, wanted, variables, where)
    return ChatTemplate(path.stem, path.read_text(encoding="utf-8"), dict(variables))
