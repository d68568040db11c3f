"""Chinese numerals up to the hundreds, as used in dates and clock times (二〇二四, 十二, 三十一)."""

from __future__ import annotations

__all__ = ["CN_DIGITS", "parse_number"]

_DIGITS = {"〇": 0, "零": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
CN_DIGITS = "".join(_DIGITS) + "十"


def parse_number(text: str) -> int | None:
    """Arabic digits, digit-by-digit Chinese (二〇二四) or tens form (十二, 二十三, 三十)."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        if not all(c in _DIGITS for c in text):
            return None
        return int("".join(str(_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    if (tens and tens not in _DIGITS) or (ones and ones not in _DIGITS) or len(tens) > 1:
        return None
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)
