"""``remove_urls``: delete (or replace) web addresses in prose; code is left intact.

Matches ``http(s)://``, ``ftp://`` and bare ``www.`` addresses up to whitespace, CJK text
(``见https://a.cn/page了解`` ends the URL at ``了``; Chinese paths are therefore cut short) or
brackets/quotes; trailing sentence punctuation stays with the sentence. Removing a URL also
removes the blanks around it, keeping one space between the words on either side; a Markdown
link ``[text](url)`` keeps its text. Bare domains
without ``www.`` (``example.com``) are not matched: too many false hits on file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import register_op
from ..text import CJK_CHAR, TextMapper, map_prose

__all__ = ["URL_RE", "RemoveUrls"]

URL_RE = re.compile(
    rf"(?:(?<![A-Za-z0-9])(?:https?|ftp)://|(?<![A-Za-z0-9.@/])www\.)[^\s<>\"'`{CJK_CHAR}\u3000-\u303f\uff00-\uffef]+"
    r"(?<![.,;:!?)\]}'\"])",
    re.IGNORECASE,
)
# "(see https://x.y/z)" keeps its closing bracket; the price is that a URL ending in ")"
# (Wikipedia "Foo_(bar)") loses that bracket to the sentence
_URL_WITH_SPACE_RE = re.compile(
    rf"(?P<before>[ \t]*)(?:{URL_RE.pattern})(?P<after>[ \t]*)", re.IGNORECASE
)

_MD_LINK_RE = re.compile(r"\[([^\]\n]+)\]\((?:https?://|ftp://|www\.)[^)\s]*\)", re.IGNORECASE)


def _drop(m: re.Match[str]) -> str:
    """Delete a URL and the blanks around it, keeping one space between two words."""
    text, start, end = m.string, m.start(), m.end()
    at_edge = start == 0 or text[start - 1] == "\n" or end == len(text) or text[end] == "\n"
    return " " if m.group("before") and m.group("after") and not at_edge else ""


@dataclass(kw_only=True)
class RemoveUrls(TextMapper):
    """Remove URLs, or replace each with ``replacement`` (e.g. ``"[URL]"``)."""

    replacement: str = ""
    skip_code: bool = True

    def _prose(self, text: str) -> str:
        if self.replacement:
            return URL_RE.sub(self.replacement, text)
        if "](" in text:
            text = _MD_LINK_RE.sub(r"\1", text)  # [text](url) keeps its text
        return _URL_WITH_SPACE_RE.sub(_drop, text)

    def transform(self, text: str) -> str:
        if "://" not in text and "www." not in text.lower():
            return text
        return map_prose(text, self._prose, skip_code=self.skip_code)


register_op("remove_urls")(RemoveUrls)
