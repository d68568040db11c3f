"""``remove_control_chars``: delete control, format and zero-width characters.

Removed: C0 controls except tab and newline (``\\r\\n`` and lone ``\\r`` become ``\\n``), DEL and
C1 controls, zero-width space/non-joiner, word joiner, BOM/zero-width no-break space, soft
hyphen, bidirectional embeddings/overrides/isolates, interlinear annotation marks and the
Unicode non-characters U+FFFE/U+FFFF. The zero-width joiner (U+200D) is kept between two
pictographs, where it builds emoji such as 👨‍👩‍👧, and removed elsewhere (``keep_emoji_zwj``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper

__all__ = ["RemoveControlChars", "remove_control_chars"]

_CONTROL = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u00ad\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ufffe\uffff"
)
_CONTROL_RE = re.compile(f"[{_CONTROL}]+")
_ZWJ_RE = re.compile("\u200d")
# pictographs and their modifiers/variation selectors around which ZWJ is meaningful
_PICTO = "\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff\ufe0f\U0001f3fb-\U0001f3ff"
_LONE_ZWJ_RE = re.compile(f"(?<![{_PICTO}])\u200d|\u200d(?![{_PICTO}])")
_ANY_RE = re.compile(f"[{_CONTROL}\r\u200d]")


def remove_control_chars(text: str, *, keep_emoji_zwj: bool = True) -> str:
    if _ANY_RE.search(text) is None:
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    if "\u200d" in text:
        text = (_LONE_ZWJ_RE if keep_emoji_zwj else _ZWJ_RE).sub("", text)
    return text


@dataclass(kw_only=True)
class RemoveControlChars(TextMapper):
    """Delete control, zero-width and bidi-format characters (keeps tab and newline)."""

    keep_emoji_zwj: bool = True

    def transform(self, text: str) -> str:
        return remove_control_chars(text, keep_emoji_zwj=self.keep_emoji_zwj)


register_op("remove_control_chars")(RemoveControlChars)
