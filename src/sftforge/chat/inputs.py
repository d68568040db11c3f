"""Reading the samples to tokenize. One function, so the reader can be swapped in one place.

Until the shared reader lands this reads canonical sftforge JSONL (one ``Sample.to_json`` object
per line); a bad line fails with file, line and the cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from ..errors import InputError
from ..sample import Sample

__all__ = ["read_samples"]


def read_samples(path: str | Path) -> Iterator[Sample]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"input file '{path}' does not exist.")
    with open(p, "rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield Sample.from_dict(orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(
                    f"not a sftforge sample: {type(exc).__name__}: {exc}",
                    file=str(path),
                    line=line_no,
                    hint="convert the file first (sftforge convert) or fix the line",
                ) from exc
