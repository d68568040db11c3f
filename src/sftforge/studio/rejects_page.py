"""One page of a rejects file (JSON lines): what the import and run pages show of the records
that were turned away, each with its reason; the whole file is downloadable beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

__all__ = ["rejects_page"]


def rejects_page(path: Path | None, offset: int, limit: int) -> dict[str, Any]:
    """Lines ``offset`` to ``offset + limit`` of ``path`` (none when there is no file) and the
    file's line count, read as a stream (a rejects file can be as large as its input)."""
    out: list[dict[str, Any]] = []
    total = 0
    if path is not None:
        with open(path, "rb") as fh:
            for n, line in enumerate(fh):
                total += 1
                if offset <= n < offset + limit:
                    out.append(orjson.loads(line))
    return {"total": total, "offset": offset, "limit": limit, "rejects": out}
