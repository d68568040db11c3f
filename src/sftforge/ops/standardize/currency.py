"""``standardize_currency``: money amounts to one form, default ``"{code} {amount}"`` (``CNY 1234.50``).

Recognised (digits only; Chinese-numeral amounts such as ``三百元`` are left alone):

- symbol or code before: ``¥1,234.50``, ``￥1234.5``, ``$3``, ``US$3``, ``HK$20``, ``€5``, ``£2``,
  ``RMB 100``, ``USD 3.5``;
- unit after: ``1234.5元``, ``100元人民币``, ``3块钱``, ``5美元``, ``10欧元``, ``100 USD``,
  ``20 dollars``, ``30 yuan``;
- Chinese multipliers ``万``/``亿`` (``1.5万元`` = 15000) and English ``million``/``billion``.

``¥``/``￥`` mean ``yen`` (default ``CNY``; set ``JPY`` for Japanese text), ``$`` means
``dollar`` (default ``USD``). ``pounds`` is not read as money (it is also a weight) and a bare
``块`` is not either (``3块蛋糕``). ``decimals`` fixes the number of decimals (``null`` keeps the
amount as written, without grouping commas); ``thousands`` adds grouping commas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..base import register_op
from ..text import TextMapper, map_prose, sub_many

_DIGIT_RE = re.compile(r"[0-9]")
__all__ = ["StandardizeCurrency", "format_money"]

_SYMBOLS = {
    "us$": "USD", "hk$": "HKD", "nt$": "TWD", "a$": "AUD", "c$": "CAD", "€": "EUR", "£": "GBP",
    "₩": "KRW", "₹": "INR", "rmb": "CNY", "cny": "CNY", "usd": "USD", "eur": "EUR", "gbp": "GBP",
    "jpy": "JPY", "hkd": "HKD",
}  # fmt: skip
_UNITS = {
    "元人民币": "CNY", "块钱": "CNY", "人民币": "CNY", "元": "CNY", "美元": "USD", "美金": "USD",
    "欧元": "EUR", "英镑": "GBP", "日元": "JPY", "日币": "JPY", "港元": "HKD", "港币": "HKD",
    "韩元": "KRW", "dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR",
    "yuan": "CNY", "rmb": "CNY", "cny": "CNY", "usd": "USD", "eur": "EUR", "gbp": "GBP",
    "jpy": "JPY", "hkd": "HKD",
}  # fmt: skip
_MULT = {"万亿": Decimal(10) ** 12, "亿": Decimal(10) ** 8, "万": Decimal(10) ** 4,
         "千": Decimal(1000), "million": Decimal(10) ** 6, "billion": Decimal(10) ** 9}  # fmt: skip

# every symbol/unit contains one of these: a text without any cannot hold an amount
_KEYS = ("$", "¥", "￥", "€", "£", "₩", "₹", "rmb", "cny", "usd", "eur", "gbp", "jpy", "hkd",
         "元", "块钱", "人民币", "美", "欧元", "英镑", "日", "港", "韩元", "dollar", "yuan")  # fmt: skip
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_MULT_RE = r"(?P<mult>\s?(?:万亿|亿|万|千|million|billion)(?![A-Za-z]))?"
_SYM_ALT = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_BEFORE_RE = re.compile(
    rf"(?<![A-Za-z])(?P<sym>{_SYM_ALT}|\$|¥|￥)\s?{_NUM}{_MULT_RE}(?P<trail>\s?(?:元|块钱))?",
    re.IGNORECASE,
)
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_AFTER_RE = re.compile(
    rf"(?<![\d.,A-Za-z]){_NUM}{_MULT_RE}\s?(?P<unit>{_UNIT_ALT})(?![A-Za-z]|素|旦|宵|音|件)",
    re.IGNORECASE,
)


def format_money(
    amount: Decimal, code: str, fmt: str, decimals: int | None, thousands: bool
) -> str:
    if decimals is None:
        num = f"{amount:,f}" if thousands else f"{amount:f}"
        if "." in num:
            num = num.rstrip("0").rstrip(".")
    else:
        q = amount.quantize(Decimal(1).scaleb(-decimals)) if decimals else amount.quantize(1)
        num = f"{q:,f}" if thousands else f"{q:f}"
    return fmt.format(code=code, amount=num)


@dataclass(kw_only=True)
class StandardizeCurrency(TextMapper):
    """Rewrite money amounts as ``format`` with ``{code}`` (ISO 4217) and ``{amount}``."""

    format: str = "{code} {amount}"
    decimals: int | None = 2
    thousands: bool = False
    yen: str = "CNY"
    dollar: str = "USD"
    skip_code: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if "{amount}" not in self.format:
            raise ValueError("format must contain {amount}")

    def _amount(self, m: re.Match[str]) -> Decimal | None:
        try:
            value = Decimal(m["num"].replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
            return None
        mult = (m["mult"] or "").strip().lower()
        return value * _MULT[mult] if mult else value

    def _out(self, m: re.Match[str], code: str) -> str:
        amount = self._amount(m)
        if amount is None:
            return m.group(0)
        return format_money(amount, code, self.format, self.decimals, self.thousands)

    def _before(self, m: re.Match[str]) -> str:
        sym = m["sym"].lower()
        code = self.yen if sym in ("¥", "￥") else self.dollar if sym == "$" else _SYMBOLS[sym]
        return self._out(m, code)

    def _after(self, m: re.Match[str]) -> str:
        return self._out(m, _UNITS[m["unit"].lower()])

    def _prose(self, text: str) -> str:
        low = text.lower()
        if not any(k in low for k in _KEYS):
            return text
        return sub_many(text, [(_BEFORE_RE, self._before), (_AFTER_RE, self._after)])

    def transform(self, text: str) -> str:
        if _DIGIT_RE.search(text) is None:
            return text
        return map_prose(text, self._prose, skip_code=self.skip_code)


register_op("standardize_currency")(StandardizeCurrency)
