"""The studio's UI languages: English and Chinese strings from ``static/i18n/<lang>.json``.

The same JSON serves the server-rendered templates (``translator``) and the page scripts (the
dictionary is embedded in each page), so a string is translated in one place. The language is the
``sftforge_lang`` cookie set by the switch in the page header, else the browser's
``Accept-Language``, else English.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

__all__ = ["DEFAULT_LANG", "LANGS", "LANG_COOKIE", "messages", "pick_lang", "translator"]

LANGS = ("en", "zh")
DEFAULT_LANG = "en"
LANG_COOKIE = "sftforge_lang"
_FOLDER = Path(__file__).parent / "static" / "i18n"


@cache
def messages(lang: str) -> dict[str, str]:
    """The strings of ``lang`` (one of ``LANGS``); keys missing there fall back to English."""
    english = json.loads((_FOLDER / f"{DEFAULT_LANG}.json").read_text(encoding="utf-8"))
    if lang == DEFAULT_LANG:
        return dict(english)
    own = json.loads((_FOLDER / f"{lang}.json").read_text(encoding="utf-8"))
    return {**english, **own}


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language when it is one of ours, else the first of ours the browser accepts."""
    if cookie in LANGS:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGS:
            return code
    return DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **vars)`` for templates: the string with ``{name}`` placeholders filled; an unknown
    key shows itself (visible in the page, so a missing translation is noticed, not hidden)."""
    table = messages(lang)

    def t(key: str, **values: object) -> str:
        text = table.get(key, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return t
