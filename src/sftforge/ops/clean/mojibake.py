"""``fix_mojibake``: repair text that was decoded with the wrong codec, only when clearly better.

Three cases are handled; anything else is left alone (this is deliberately narrower than ftfy):

1. UTF-8 read as cp1252/latin-1 (``cafÃ©`` -> ``café``, ``â€™`` -> ``’``, ``å¤©`` -> ``天``). Only
   exact UTF-8 byte patterns are replaced: a lead character (``Â``-``ô``) followed by the right
   number of continuation characters, each of which must map back to a byte 0x80-0xBF. Legit
   accented Latin text almost never forms such a sequence. Repeated up to twice (double
   encoding).
2. UTF-8 read as GBK (``浣犲ソ`` -> ``你好``): a run of non-ASCII characters (or the whole text)
   is re-encoded as GBK and must decode as strict UTF-8, and the result must have fewer rare
   characters (outside the 3,755 common GB2312 level-1 hanzi, CJK punctuation, ASCII) than
   the input.
3. GBK read as latin-1 (``ÄãºÃ`` -> ``你好``): a run of at least four latin-1 characters that
   decodes as strict GBK into nothing but common hanzi and CJK punctuation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper

__all__ = ["FixMojibake", "fix_mojibake"]

# cp1252's characters for bytes 0x80-0x9f (5 undefined bytes appear as latin-1 C1 controls)
_CP1252_HIGH = {ch: b for b in range(0x80, 0xA0) if (ch := bytes([b]).decode("cp1252", "ignore"))}
_TO_BYTE: dict[str, int] = {chr(b): b for b in range(0x80, 0x100)} | _CP1252_HIGH
_CONT = "".join(re.escape(c) for c, b in _TO_BYTE.items() if 0x80 <= b <= 0xBF)
_L2 = "".join(re.escape(c) for c, b in _TO_BYTE.items() if 0xC2 <= b <= 0xDF)
_L3 = "".join(re.escape(c) for c, b in _TO_BYTE.items() if 0xE0 <= b <= 0xEF)
_L4 = "".join(re.escape(c) for c, b in _TO_BYTE.items() if 0xF0 <= b <= 0xF4)
_UTF8_AS_LATIN_RE = re.compile(f"[{_L2}][{_CONT}]|[{_L3}][{_CONT}]{{2}}|[{_L4}][{_CONT}]{{3}}")
_SUSPECT_RE = re.compile(f"[{_L2}{_L3}{_L4}][{_CONT}]")
_LATIN_RUN_RE = re.compile("[\u00a1-\u00ff]{4,}")
# a run of characters that all map back to single bytes 0x80-0xFF
_RUN_RE = re.compile(f"[{''.join(re.escape(c) for c in _TO_BYTE)}]{{2,}}")
_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]{2,}")
_CJK_PUNCT = set("，。、；：？！“”‘’（）《》【】「」『』…—·～　")


@functools.lru_cache(maxsize=1)
def _common_hanzi() -> frozenset[str]:
    """GB2312 level 1: the 3,755 most common simplified characters (rows 0xB0-0xD7)."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return frozenset(out)


def _rare(text: str) -> int:
    common = _common_hanzi()
    return sum(1 for c in text if c >= "\x80" and c not in common and c not in _CJK_PUNCT)


def _latin_seq(m: re.Match[str]) -> str:
    seq = m.group(0)
    try:
        return bytes(_TO_BYTE[c] for c in seq).decode("utf-8")
    except UnicodeDecodeError:
        return seq


def _decode_utf8_tail(data: bytes) -> str | None:
    """Strict UTF-8, except that a character cut off at the very end becomes U+FFFD (the
    wrong decoding had already lost its last byte)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8", "strict") + "\ufffd"
        return None


def _gbk_as_utf8(run: str) -> str | None:
    """Case 2 on one run (or the whole text); None when the repair is not clearly better."""
    body = run.rstrip("\ufffd")
    try:
        data = body.encode("gbk")
        fixed = _decode_utf8_tail(data)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if fixed is None:
        return None
    return fixed if _rare(fixed) < _rare(run) else None


def _latin_run(m: re.Match[str]) -> str:
    """Cases 1 and 3 on a run of latin-1/cp1252 characters: whole-run UTF-8, else whole-run
    GBK into common hanzi only, else the individual UTF-8 sequences inside the run."""
    run = m.group(0)
    data = bytes(_TO_BYTE.get(c, 0) for c in run)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if len(run) >= 4 and all(c <= "\xff" for c in run):
        try:
            fixed = run.encode("latin-1").decode("gbk")
        except UnicodeDecodeError:
            fixed = ""
        common = _common_hanzi()
        if fixed and all(c in common or c in _CJK_PUNCT for c in fixed):
            return fixed
    return _UTF8_AS_LATIN_RE.sub(_latin_seq, run)


def fix_mojibake(text: str) -> str:
    if text.isascii():
        return text
    for _ in range(2):
        if _SUSPECT_RE.search(text) is None and _LATIN_RUN_RE.search(text) is None:
            break
        text = _RUN_RE.sub(_latin_run, text)
    # the strict GBK->UTF-8 round trip fails fast on genuine Chinese, so it is tried first and
    # the (slower) rarity count only runs on texts that survive it
    whole = _gbk_as_utf8(text)
    if whole is not None:
        return whole
    return _NON_ASCII_RUN_RE.sub(lambda m: _gbk_as_utf8(m.group(0)) or m.group(0), text)


@dataclass(kw_only=True)
class FixMojibake(TextMapper):
    """Repair UTF-8/cp1252/latin-1/GBK mix-ups where the repaired text is clearly better."""

    def transform(self, text: str) -> str:
        return fix_mojibake(text)


register_op("fix_mojibake")(FixMojibake)
