"""``RawRecord``: one record as a container reader yields it, before any format interprets it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SftforgeError

__all__ = ["RawRecord"]


@dataclass(slots=True)
class RawRecord:
    """A parsed container record and where it came from.

    ``value`` is a JSON value (JSONL line, JSON array element), a ``dict[str, str]`` (CSV/TSV row,
    Parquet row as Python objects) or ``{"text": ...}`` (plain text). ``line`` is 1-based: the line
    the record starts on (for Parquet, the row number). ``raw`` is the original text, kept so a
    rejected record can be written back as it was. When the container could not parse the record
    (malformed JSON line, bad encoding), ``error`` is set and ``value`` is ``None``.
    """

    value: Any
    source: str
    line: int
    raw: str | None = None
    error: SftforgeError | None = None
