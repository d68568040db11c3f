"""``standardize_times``: clock times to 24-hour ``HH:MM`` (``HH:MM:SS`` when seconds are given).

Recognised:

- English with am/pm: ``3pm``, ``3 PM``, ``3:30 p.m.``, ``12 am`` (midnight), ``12:05 PM``;
- Chinese with a period word: ``下午3点``, ``晚上8点半``, ``上午十点一刻``, ``凌晨12点`` (00:00);
- Chinese with minutes: ``3点30分``, ``15时30分``, ``8点整``, ``3点半`` (read as written: 03:30).

A time whose period word directly follows a digit (a date: ``2024-03-05下午3点半``) gets a space
before it (``2024-03-05 15:30``), since the period word that kept them apart is gone.

Left alone on purpose: a bare ``3点`` (also means "3 points"), bare ``15时``, times already in
``H:MM`` form, time zones and durations (``3小时``). ``format`` is a ``strftime`` pattern.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper, map_prose, sub_many
from .numerals import CN_DIGITS, parse_number

_DIGIT_RE = re.compile(r"[0-9〇零一二两三四五六七八九十]")
__all__ = ["StandardizeTimes", "standardize_times"]

_EN_RE = re.compile(
    r"(?<![\d:.])(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?(?::(?P<s>[0-5]\d))?\s?(?P<ap>[ap])\.?\s?m"
    r"(?:\.(?!\s*(?:(?-i:[A-Z])|$)))?(?![A-Za-z])",
    re.IGNORECASE,
)
_PERIOD = "凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜"
_NUM = rf"\d{{1,2}}|[{CN_DIGITS}]{{1,3}}"
_CN_RE = re.compile(
    rf"(?P<p>{_PERIOD})?\s*(?P<h>{_NUM})\s*(?P<unit>[点點时時])"
    rf"(?:\s*(?P<half>半)|\s*(?P<q>一刻|三刻)|\s*(?P<m>{_NUM})\s*分(?:\s*(?P<s>{_NUM})\s*秒)?"
    r"|\s*(?P<zheng>整))?"
)
_AMPM_RE = re.compile(r"\d\s?[apAP]\.?\s?[mM]")
_PM = {"下午", "傍晚", "晚上", "夜里", "夜间"}
_AM = {"凌晨", "早上", "早晨", "清晨", "上午", "半夜"}


def _fmt(fmt: str, h: int, m: int, s: int | None) -> str | None:
    if not (0 <= h <= 23 and 0 <= m <= 59 and (s is None or 0 <= s <= 59)):
        return None
    t = dt.time(h, m, s or 0)
    return t.strftime(fmt + (":%S" if s is not None and "%S" not in fmt else ""))


def standardize_times(text: str, fmt: str = "%H:%M") -> str:
    def en(m: re.Match[str]) -> str | None:
        h = int(m["h"])
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if m["ap"].lower() == "p" else 0)
        s = int(m["s"]) if m["s"] else None
        return _fmt(fmt, h, int(m["m"] or 0), s)

    def cn(m: re.Match[str]) -> str | None:
        period, minute = m["p"], m["m"]
        if not (period or minute or m["half"] or m["q"] or m["zheng"]):
            return None  # bare "3点": maybe "3 points"
        h = parse_number(m["h"])
        mins: int | None = 30 if m["half"] else 15 if m["q"] == "一刻" else 45 if m["q"] else 0
        if minute:
            mins = parse_number(minute)
        s = parse_number(m["s"]) if m["s"] else None
        if h is None or mins is None:
            return None
        if (period in _PM and h < 12) or (period == "中午" and h < 11):
            h += 12
        elif period in _AM and h == 12:
            h = 0
        new = _fmt(fmt, h, mins, s)
        if new is None:
            return None
        if not period:
            # the match may start at the space before the hour ("明天 3点30分"): keep it
            return m[0][: len(m[0]) - len(m[0].lstrip())] + new
        # "2024-03-05下午3点半": the period word kept the date's digits and the time's apart
        if m.start() > 0 and m.string[m.start() - 1].isdigit():
            new = " " + new
        return new

    rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]] = []
    if any(c in text for c in "点點时時"):
        rules.append((_CN_RE, cn))
    if _AMPM_RE.search(text):
        rules.append((_EN_RE, en))
    return sub_many(text, rules) if rules else text


@dataclass(kw_only=True)
class StandardizeTimes(TextMapper):
    """Rewrite clock times to 24-hour ``format`` (default ``%H:%M``)."""

    format: str = "%H:%M"
    skip_code: bool = True

    def transform(self, text: str) -> str:
        if _DIGIT_RE.search(text) is None:
            return text
        fn = lambda t: standardize_times(t, self.format)  # noqa: E731
        return map_prose(text, fn, skip_code=self.skip_code)


register_op("standardize_times")(StandardizeTimes)
