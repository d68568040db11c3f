"""``normalize_whitespace``: tidy spaces and blank lines without touching code or indentation.

In prose: exotic spaces (no-break, en/em, thin, narrow, ideographic when ``ideographic_space``)
become a plain space; runs of spaces/tabs inside a line collapse to one (leading indentation is
kept, so nested lists and quoted code stay aligned); trailing spaces are cut; more than
``max_blank_lines`` consecutive blank lines are reduced. ``\\r\\n`` becomes ``\\n`` everywhere;
inside fenced/``<pre>`` code only trailing spaces are cut (``strip_code_trailing``). With
``strip`` the whole text loses leading/trailing blank space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper, split_code

__all__ = ["NormalizeWhitespace"]

_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f"
_SPACES_RE = re.compile(f"[{_SPACES}]")
_SPACES_IDEO_RE = re.compile(f"[{_SPACES}\u3000]")
# a run of 2+ blanks that is not at the start of a line (indentation is kept)
_INNER_RUN_RE = re.compile(r"(?<=[^ \t\n])[ \t]{2,}")
_TRAILING_RE = re.compile(r"[ \t]+(?=\n)")


@dataclass(kw_only=True)
class NormalizeWhitespace(TextMapper):
    """Unify spaces, collapse runs, cut trailing spaces and extra blank lines; code is kept."""

    collapse_spaces: bool = True
    ideographic_space: bool = False
    max_blank_lines: int | None = 1
    strip: bool = True
    strip_code_trailing: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_blank_lines is not None:
            n = self.max_blank_lines
            self._blank_re = re.compile(rf"\n(?:[ \t]*\n){{{n + 1},}}")
            self._blank_to = "\n" * (n + 1)
        # with the fixed ones in ``transform``: substrings whose absence (in ASCII text) means
        # only the ends may need stripping
        self._blank_run = (
            "\n" * (self.max_blank_lines + 2) if self.max_blank_lines is not None else None
        )

    def _prose(self, text: str) -> str:
        if not text.isascii():
            text = (_SPACES_IDEO_RE if self.ideographic_space else _SPACES_RE).sub(" ", text)
        # substring checks first: the regexes scan every position, the checks are C memchr-fast
        tabs = "\t" in text
        if self.collapse_spaces and ("  " in text or tabs):
            text = _INNER_RUN_RE.sub(" ", text)
        if " \n" in text or "\t\n" in text:
            text = _TRAILING_RE.sub("", text)
        if self.max_blank_lines is not None and "\n\n" in text:
            text = self._blank_re.sub(self._blank_to, text)
        return text

    def transform(self, text: str) -> str:
        if text.isascii() and not (
            # spelled out, not any() over a tuple: no generator per message
            "\r" in text
            or "\t" in text
            or "  " in text
            or " \n" in text
            or "`" in text
            or "<" in text
            or "~~~" in text
            or (self._blank_run is not None and self._blank_run in text)
        ):
            return text.strip() if self.strip else text
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = split_code(text)
        out = []
        for is_code, part in parts:
            if not is_code:
                out.append(self._prose(part))
            elif self.strip_code_trailing and "\n" in part:
                out.append(_TRAILING_RE.sub("", part))
            else:
                out.append(part)
        joined = "".join(out)
        return joined.strip() if self.strip else joined


register_op("normalize_whitespace")(NormalizeWhitespace)
