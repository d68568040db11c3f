"""A file holding one JSON object (or any single JSON value): one record.

The whole file is one record, so it is read whole; the size limit still applies. A file of
several JSON objects one per line is JSON Lines (see ``jsonl``), which the container sniffing
picks for a ``.json`` file whose first line is a complete object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

from .jsonl import json_error, too_large
from .record import RawRecord
from .textcheck import check_text

__all__ = ["iter_json_object"]


def iter_json_object(
    stream: BinaryIO, file: str, *, max_record_bytes: int, check: bool = True
) -> Iterator[RawRecord]:
    raw = stream.read(max_record_bytes + 1)
    if len(raw) > max_record_bytes:
        yield RawRecord(None, file, 1, None, too_large(file, 1, len(raw), max_record_bytes))
        return
    lead = len(raw) - len(raw.lstrip())
    line = 1 + raw.count(b"\n", 0, lead)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        err = check_text(raw, file, 1) or json_error(exc, raw, file, 1)
        yield RawRecord(None, file, line, raw.decode("utf-8", errors="replace"), err)
        return
    problem = check_text(raw, file, 1) if check else None
    if problem is not None:
        yield RawRecord(None, file, line, raw.decode("utf-8", errors="replace"), problem)
        return
    yield RawRecord(value, file, line, None)
