"""Standardisers: dates, clock times, money amounts and unit names to one configurable form.

Importing this package registers ``standardize_dates``, ``standardize_times``,
``standardize_currency`` and ``standardize_units``. Each module's docstring lists exactly which
spellings it recognises; anything else is left as written.
"""

from .currency import StandardizeCurrency, format_money
from .dates import StandardizeDates, standardize_dates
from .times import StandardizeTimes, standardize_times
from .units import UNIT_ALIASES, StandardizeUnits

__all__ = [
    "UNIT_ALIASES",
    "StandardizeCurrency",
    "StandardizeDates",
    "StandardizeTimes",
    "StandardizeUnits",
    "format_money",
    "standardize_dates",
    "standardize_times",
]
