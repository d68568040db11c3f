"""Duplicate keys in a JSON object: orjson (like every JSON reader) keeps the last value
silently, so ``{"output": "first", "output": "second"}`` would lose "first" without a word.

The check costs one ``orjson.dumps`` of what was parsed and two C-level counts. Every key in the
input is a string followed by ``:``; written compactly (as ``dumps`` writes them) each gives one
``":``. A ``":`` inside a string value is an escaped quote and a colon, which ``dumps`` writes
again the same way; whitespace before the colon only lowers the input's count. So the input
holding more ``":`` than its re-serialised values means keys were dropped: duplicates. Only then
is the record parsed again with Python's ``json`` to name them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .errors import RecordError

__all__ = ["duplicate_keys_error", "hides_duplicate_keys"]


def hides_duplicate_keys(raw: bytes, values: Any) -> bool:
    """True when parsing ``raw`` into ``values`` dropped duplicate keys (see the module doc)."""
    if b'":' not in raw:
        return False
    try:
        return raw.count(b'":') > orjson.dumps(values).count(b'":')
    except TypeError:  # a value orjson cannot write back (an int over 64 bits): not this check
        return False


def duplicate_keys_error(raw: bytes, file: str, line: int) -> RecordError | None:
    """A ``duplicate_keys`` error naming the first repeated key and where it is, or None."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not found:
                found.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except ValueError:
        return None
    if not found:
        return None
    key = found[0]
    at = raw.find(b'"' + json.dumps(key, ensure_ascii=False).encode()[1:-1] + b'"')
    at = raw.find(b'"' + json.dumps(key, ensure_ascii=False).encode()[1:-1] + b'"', at + 1)
    rel = raw.count(b"\n", 0, max(at, 0))
    err = RecordError(
        "duplicate_keys",
        f"the key '{key}' appears twice in one object: JSON readers keep only the last value, "
        "so the first would be lost without a word.",
        file=file,
        line=line + rel,
        hint=f"keep one '{key}' (or rename one of them) in the record",
    )
    err.field = key
    return err
