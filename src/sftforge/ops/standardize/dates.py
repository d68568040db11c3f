"""``standardize_dates``: calendar dates to one form (default ISO ``YYYY-MM-DD``).

Recognised (year must have four digits, 1000-2999; the date must exist, else it is left alone):

- Chinese ``2024年3月5日`` / ``2024 年 03 月 05 号`` / ``二〇二四年三月五日``;
- year first ``2024-03-05``, ``2024/3/5``, ``2024.03.05`` (same separator twice);
- English ``March 5, 2024``, ``Mar. 5th 2024``, ``5 March 2024``, ``5th of March, 2024``
  (full or 3-letter month names, ``Sept``);
- numeric day/month ``05/03/2024``, ``5-3-2024``, ``05.03.2024``: read day first when
  ``day_first`` is true, else month first (US); a part above 12 settles it either way.
  A version number shaped like a date (``1.2.2024``) is rewritten too: that is the price of
  the dotted European form.

A date written directly before a time (``2024年3月5日15时30分``, ``2024年3月5日3点半``) gets a
space after it when its new form ends in a digit, so the two stay apart (``2024-03-05 15时30分``).

Not recognised (left as written): two-digit years, dates without a year (``3月5日``,
``March 5``), month-year only, weekdays, relative dates (``昨天``, ``next Monday``), ranges.
``format`` is a ``strftime`` pattern (``%Y-%m-%d``, ``%Y年%-m月%-d日`` is not portable: use
``%Y年%m月%d日``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper, map_prose, sub_many
from .numerals import CN_DIGITS, parse_number

__all__ = ["StandardizeDates", "standardize_dates"]

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_CN_RE = re.compile(
    rf"(?P<y>\d{{4}}|[{CN_DIGITS}]{{4}})\s*年\s*(?P<m>\d{{1,2}}|[{CN_DIGITS}]{{1,2}})\s*月"
    rf"\s*(?P<d>\d{{1,2}}|[{CN_DIGITS}]{{1,3}})\s*[日号號]"
)
_YMD_RE = re.compile(
    r"(?<![\d.:/-])(?P<y>[12]\d{3})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?!\d|[-/.:]\d)"
)
_MDY_RE = re.compile(
    rf"(?<![A-Za-z]){_MON}\s+(?P<d>\d{{1,2}}){_ORD},?\s+(?P<y>[12]\d{{3}})(?!\d)", re.IGNORECASE
)
_DMY_WORDS_RE = re.compile(
    rf"(?<![\d.])(?P<d>\d{{1,2}}){_ORD}(?:\s+of)?\s+{_MON},?\s+(?P<y>[12]\d{{3}})(?!\d)",
    re.IGNORECASE,
)
_SEP_RE = re.compile(r"\d[-/.]\d")
# what may directly follow a Chinese date and would glue onto an ISO date: a digit (the time)
_GLUED_RE = re.compile(f"[0-9{CN_DIGITS}]")
_NUMERIC_RE = re.compile(
    r"(?<![\d.:/-])(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>[12]\d{3})(?!\d|[-/.]\d)"
)


def _make(y: int | None, m: int | None, d: int | None) -> dt.date | None:
    if y is None or m is None or d is None or not 1000 <= y <= 2999:
        return None
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def standardize_dates(text: str, fmt: str = "%Y-%m-%d", *, day_first: bool = False) -> str:
    def out(m: re.Match[str], date: dt.date | None) -> str | None:
        if date is None:
            return None
        new = date.strftime(fmt)
        # "2024年3月5日15时30分": the date's digits must not run into the time's ("2024-03-0515")
        after = m.string[m.end() : m.end() + 1]
        if new[-1:].isascii() and new[-1:].isalnum() and _GLUED_RE.match(after):
            new += " "
        return new

    def cn(m: re.Match[str]) -> str | None:
        return out(m, _make(parse_number(m["y"]), parse_number(m["m"]), parse_number(m["d"])))

    def ymd(m: re.Match[str]) -> str | None:
        return out(m, _make(int(m["y"]), int(m["m"]), int(m["d"])))

    def words(m: re.Match[str]) -> str | None:
        return out(m, _make(int(m["y"]), _MONTHS[m["mon"].lower()[:3]], int(m["d"])))

    def numeric(m: re.Match[str]) -> str | None:
        a, b = int(m["a"]), int(m["b"])
        d, mo = (a, b) if a > 12 or (day_first and b <= 12) else (b, a)
        return out(m, _make(int(m["y"]), mo, d))

    rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]] = []
    # cheap tests decide which rules can match at all; the patterns start with look-behinds
    # and cannot skip ahead by themselves
    if "年" in text:
        rules.append((_CN_RE, cn))
    sep = _SEP_RE.search(text) is not None
    if sep:
        rules.append((_YMD_RE, ymd))
    low = text.lower()
    if any(mon in low for mon in _MONTHS):
        rules += [(_MDY_RE, words), (_DMY_WORDS_RE, words)]
    if sep:
        rules.append((_NUMERIC_RE, numeric))
    return sub_many(text, rules) if rules else text


_ANY_DIGIT_RE = re.compile(f"[0-9{CN_DIGITS}]")


@dataclass(kw_only=True)
class StandardizeDates(TextMapper):
    """Rewrite dates to ``format`` (default ``%Y-%m-%d``); ``day_first`` for 05/03/2024."""

    format: str = "%Y-%m-%d"
    day_first: bool = False
    skip_code: bool = True

    def transform(self, text: str) -> str:
        if _ANY_DIGIT_RE.search(text) is None:
            return text
        fn = lambda t: standardize_dates(t, self.format, day_first=self.day_first)  # noqa: E731
        return map_prose(text, fn, skip_code=self.skip_code)


register_op("standardize_dates")(StandardizeDates)
