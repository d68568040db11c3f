"""``clean_html``: strip HTML tags and decode entities in prose, leaving code intact.

Only tags with a known HTML element name are removed, so ``<noinput>``, ``List<String>``,
``a < b`` and ``<think>`` survive. ``<script>``/``<style>``/``<head>`` elements are removed with
their content; block elements (``<p>``, ``<div>``, ``<br>``, ``<li>``, headings, table rows)
become line breaks so paragraphs do not run together. Fenced blocks, ``<pre>``/``<code>``
elements and inline backtick code are left byte-identical (set ``skip_code: false`` to clean
them too). Not a full HTML parser: malformed markup is handled tag by tag.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper, map_prose

__all__ = ["CleanHtml", "strip_html"]

_BLOCK = (
    "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|form|h[1-6]|"
    "header|hr|li|main|nav|ol|p|section|table|tbody|td|tfoot|th|thead|tr|ul"
)
_INLINE = (
    "a|abbr|b|bdi|bdo|big|body|button|caption|center|cite|col|colgroup|data|del|details|dfn|em|"
    "embed|font|html|i|iframe|img|input|ins|kbd|label|legend|link|mark|meta|noscript|object|"
    "option|picture|q|s|samp|select|small|source|span|strike|strong|sub|summary|sup|svg|"
    "textarea|time|title|tt|u|var|video|audio|wbr|path|g|rect|circle|canvas|fieldset|menu"
)
_DROP_RE = re.compile(
    r"<(script|style|head|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->|<!DOCTYPE[^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_ATTRS = r"""(?:\s+[^\s<>"'=/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+))?)*\s*/?"""
# a block tag becomes a line break, taking the blanks around it (source indentation, &nbsp;)
_BLOCK_RE = re.compile(rf"[ \t]*</?(?:{_BLOCK})\b{_ATTRS}>(?:[ \t\u00a0]|&nbsp;)*", re.IGNORECASE)
_INLINE_RE = re.compile(rf"</?(?:{_INLINE})\b{_ATTRS}>", re.IGNORECASE)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLANKS_RE = re.compile(r"[ \t]*\n(?:[ \t]*\n)+")


def strip_html(text: str) -> str:
    """Remove tags and decode entities in one piece of prose (no code detection)."""
    if "<" in text:
        text = _DROP_RE.sub("", text)
        out = _BLOCK_RE.sub("\n", text)
        out = _INLINE_RE.sub("", out)
        if out != text:
            # block tags turned into line breaks: keep at most one blank line between paragraphs
            out = _BLANKS_RE.sub("\n\n", out)
        text = out
    if "&" in text:
        text = _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)
    return text


@dataclass(kw_only=True)
class CleanHtml(TextMapper):
    """Strip HTML tags and decode entities; code blocks are left as they are."""

    skip_code: bool = True

    def transform(self, text: str) -> str:
        if "<" not in text and "&" not in text:
            return text
        out = map_prose(text, strip_html, skip_code=self.skip_code)
        # a wrapping block element (<p>...</p>) must not leave the text starting with a newline
        return out.strip("\n") if out != text else text


register_op("clean_html")(CleanHtml)
