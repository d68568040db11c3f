"""Prompt templates: our own, in English and Chinese, overridable by a user file.

Templates live in ``prompts/en.yaml`` and ``prompts/zh.yaml`` (package data), keyed like
``judge.user``. Placeholders are ``{{name}}`` (plain substitution, no logic, so JSON examples
with braces stay as they are). A user file (YAML) either maps keys to templates for every
language, or has ``en:`` / ``zh:`` sections; its keys must exist and its placeholders must be
ones the template gets.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

import regex
import yaml

from ..errors import RecipeError, TemplateError

__all__ = ["LANGS", "Prompts", "detect_lang"]

LANGS = ("en", "zh")
_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_HAN = regex.compile(r"\p{Han}")


def detect_lang(text: str) -> str:
    """``zh`` when Han characters are at least a fifth of the letters, else ``en``."""
    han = len(_HAN.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh" if letters and han / letters >= 0.2 else "en"


@cache
def _builtin(lang: str) -> dict[str, str]:
    text = resources.files("sftforge.generate").joinpath(f"prompts/{lang}.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text))


def _load_override(path: str) -> dict[str, dict[str, str]]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read the prompts file: {exc}", file=path) from exc
    if not isinstance(data, dict):
        raise RecipeError("a prompts file maps prompt names to templates.", file=path)
    if set(data) <= set(LANGS):
        out = {lang: dict(data.get(lang) or {}) for lang in LANGS}
    else:
        out = {lang: dict(data) for lang in LANGS}
    known = set(_builtin("en"))
    for section in out.values():
        unknown = sorted(set(section) - known)
        if unknown:
            raise RecipeError(
                f"unknown prompt name {', '.join(map(repr, unknown))}.",
                file=path,
                hint=f"valid names: {', '.join(sorted(known))}",
            )
    return out


class Prompts:
    """Render prompt ``name`` in ``lang`` with the built-in templates or the user's overrides."""

    def __init__(self, override: str | None = None) -> None:
        self._over = _load_override(override) if override else {lang: {} for lang in LANGS}

    def template(self, name: str, lang: str) -> str:
        lang = lang if lang in LANGS else "en"
        tpl = self._over[lang].get(name) or _builtin(lang).get(name)
        if tpl is None:
            raise TemplateError(f"no prompt named '{name}'.")
        return tpl

    def render(self, name: str, lang: str, **values: object) -> str:
        tpl = self.template(name, lang)

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in values:
                raise TemplateError(
                    f"prompt '{name}' uses {{{{{key}}}}}, which it is not given.",
                    hint=f"placeholders available: {', '.join(sorted(values))}",
                )
            return str(values[key])

        return _VAR.sub(sub, tpl)
