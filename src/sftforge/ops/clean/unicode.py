"""``normalize_unicode``: Unicode normal form plus a controlled full-width/half-width policy.

Plain NFKC is harsh on Chinese text: it turns full-width punctuation ``，！？：；（）`` into ASCII
and superscripts ``x²`` into ``x2``. Here the compatibility forms are split by kind and each kind
has a switch, applied together with ``form`` (default NFKC, with the protections below):

- ``fullwidth_alnum`` (default on): ``Ａ-Ｚ ａ-ｚ ０-９`` to ASCII letters and digits;
- ``fullwidth_punct`` (default off): ``，！？：；（）［］｛｝＂＇＃％＆＊＋－／＜＝＞＠＼＾＿｀｜～``
  to ASCII; off keeps Chinese punctuation as written (``。、「」《》`` are never touched);
- ``ideographic_space`` (default off): U+3000 to a space;
- ``halfwidth_kana`` (default on): half-width katakana to full-width;
- ``form``: ``NFC`` | ``NFKC`` | ``NFD`` | ``NFKD`` | ``None``. With ``NFKC``/``NFKD`` the
  characters the switches keep are protected from the normal form, and ``keep_scripts``
  (default on) also protects super/subscripts (``²``, ``₂``) so formulas keep their meaning.
Code spans are left as written (``skip_code``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ..base import register_op
from ..text import TextMapper, map_prose

__all__ = ["NormalizeUnicode"]

_ALNUM = {
    c: chr(c - 0xFEE0)
    for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}
_PUNCT = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F) if c not in _ALNUM}
_SCRIPTS = [0xB2, 0xB3, 0xB9, *range(0x2070, 0x20A0)]
_HALF_KANA_RE = re.compile("[\uff61-\uff9f]+")


@dataclass(kw_only=True)
class NormalizeUnicode(TextMapper):
    """Normal form plus full-width/half-width switches that keep Chinese punctuation."""

    form: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFKC"
    fullwidth_alnum: bool = True
    fullwidth_punct: bool = False
    ideographic_space: bool = False
    halfwidth_kana: bool = True
    keep_scripts: bool = True
    skip_code: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.form not in (None, "NFC", "NFKC", "NFD", "NFKD"):
            raise ValueError(f"form must be NFC, NFKC, NFD, NFKD or null, not {self.form!r}")
        table: dict[int, str] = {}
        if self.fullwidth_alnum:
            table.update(_ALNUM)
        if self.fullwidth_punct:
            table.update(_PUNCT)
        if self.ideographic_space:
            table[0x3000] = " "
        self._table = table
        protect: list[int] = []
        if self.form in ("NFKC", "NFKD"):
            if not self.fullwidth_punct:
                protect += _PUNCT
            if not self.fullwidth_alnum:
                protect += _ALNUM
            if not self.ideographic_space:
                protect.append(0x3000)
            if not self.halfwidth_kana:
                protect += range(0xFF61, 0xFFA0)
            if self.keep_scripts:
                protect += _SCRIPTS
        cls = "".join(re.escape(chr(c)) for c in protect)
        # the capture group makes split() return the protected runs at odd indexes
        self._protect_re = re.compile(f"([{cls}]+)") if cls else None

    def _normal_form(self, text: str) -> str:
        if self.form is None or unicodedata.is_normalized(self.form, text):
            return text
        if self._protect_re is None:
            return unicodedata.normalize(self.form, text)
        parts = self._protect_re.split(text)
        return "".join(
            p if i % 2 else unicodedata.normalize(self.form, p) for i, p in enumerate(parts)
        )

    def _prose(self, text: str) -> str:
        if self._table:
            text = text.translate(self._table)
        if self.halfwidth_kana and self.form not in ("NFKC", "NFKD") and _HALF_KANA_RE.search(text):
            text = _HALF_KANA_RE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
        return self._normal_form(text)

    def transform(self, text: str) -> str:
        if text.isascii():  # a flag of the str object: no scan (ASCII is in every normal form)
            return text
        return map_prose(text, self._prose, skip_code=self.skip_code)


register_op("normalize_unicode")(NormalizeUnicode)
