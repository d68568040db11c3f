"""``standardize_units``: unit names after a number to one symbol (``5公里`` -> ``5 km``).

Only the spelling changes; values are never converted between units or systems. Covered:
length (km, m, cm, mm), mass (kg, g, mg, t), volume (L, mL), area (m², km²), speed (km/h),
temperature (°C, °F), in Chinese (``公里``, ``千米``, ``米``, ``厘米``, ``公斤``, ``千克``, ``克``,
``吨``, ``升``, ``毫升``, ``平方米``/``平米``, ``摄氏度``/``℃``...) and English words
(``kilometers``, ``grams``, ``litres``, ``degrees Celsius``...). Single-letter symbols
(``5 m``, ``3g``, ``2t``) are never touched: ``m`` may be minutes or millions, ``5g`` a network.
Chinese market units (``斤``, ``两``, ``亩``), imperial units and words that merely start with a
unit character (``克拉``, ``米饭``, ``升级``) are left alone. ``space`` puts one space between
number and symbol (``5 km``); off writes ``5km``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper, map_prose

_DIGIT_RE = re.compile(r"[0-9]")
__all__ = ["UNIT_ALIASES", "StandardizeUnits"]

UNIT_ALIASES: dict[str, str] = {
    # Chinese
    "平方公里": "km²", "平方千米": "km²", "平方米": "m²", "平米": "m²", "公里每小时": "km/h",
    "千米每小时": "km/h", "公里/小时": "km/h", "千米/小时": "km/h", "公里": "km", "千米": "km",
    "厘米": "cm", "毫米": "mm", "米": "m", "公斤": "kg", "千克": "kg", "毫克": "mg", "克": "g",
    "吨": "t", "毫升": "mL", "升": "L", "摄氏度": "°C", "华氏度": "°F", "℃": "°C", "℉": "°F",
    "㎡": "m²", "㎞": "km", "㎏": "kg",
    # English words and variant symbols
    "kilometers": "km", "kilometres": "km", "kilometer": "km", "kilometre": "km", "kms": "km",
    "km": "km", "centimeters": "cm", "centimetres": "cm", "centimeter": "cm", "centimetre": "cm",
    "cm": "cm", "millimeters": "mm", "millimetres": "mm", "millimeter": "mm", "millimetre": "mm",
    "mm": "mm", "meters": "m", "metres": "m", "meter": "m", "metre": "m", "kilograms": "kg",
    "kilogram": "kg", "kgs": "kg", "kg": "kg", "milligrams": "mg", "milligram": "mg", "mg": "mg",
    "grams": "g", "gram": "g", "liters": "L", "litres": "L", "liter": "L", "litre": "L",
    "milliliters": "mL", "millilitres": "mL", "milliliter": "mL", "millilitre": "mL", "ml": "mL",
    "km/h": "km/h", "kph": "km/h", "km/hr": "km/h", "sq m": "m²", "sq km": "km²",
    "degrees celsius": "°C", "degree celsius": "°C", "°c": "°C", "degrees fahrenheit": "°F",
    "°f": "°F",
}  # fmt: skip
# the next character that shows a CJK unit character is part of a longer word
_CJK_STOP = "拉隆饭粒色级高值位"
_ALT = "|".join(re.escape(a) for a in sorted(UNIT_ALIASES, key=len, reverse=True))
# the look-behind sits after the first digit so the pattern starts with a character class the
# regex engine can skip ahead on: "a digit not preceded by a letter, digit or dot"
_RE = re.compile(
    rf"(?P<num>\d(?<![0-9A-Za-z.]\d)\d*(?:\.\d+)?)(?P<sp>\s?)(?P<unit>{_ALT})"
    rf"(?![A-Za-z0-9²/]|[{_CJK_STOP}])",
    re.IGNORECASE,
)


@dataclass(kw_only=True)
class StandardizeUnits(TextMapper):
    """Rewrite units after numbers to their symbol (``5公里`` -> ``5 km``)."""

    space: bool = True
    skip_code: bool = True

    def _sub(self, m: re.Match[str]) -> str:
        symbol = UNIT_ALIASES[m["unit"].lower()]
        return f"{m['num']}{' ' if self.space else ''}{symbol}"

    def _prose(self, text: str) -> str:
        return _RE.sub(self._sub, text)

    def transform(self, text: str) -> str:
        if _DIGIT_RE.search(text) is None:
            return text
        return map_prose(text, self._prose, skip_code=self.skip_code)


register_op("standardize_units")(StandardizeUnits)
