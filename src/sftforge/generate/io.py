"""Reading generator inputs and writing outputs, failed items and rejects (JSONL).

Everything goes through the one reader and writer (``sftforge.api.read``, ``sftforge.io``):
samples in any format, container and compression, detected from the first records. A list of
instructions needs no conversion first: when no format fits, the rows are read with the column
mapping proposed from their keys (``instruction``/``prompt``/``question``/``问题`` -> prompt,
``input`` -> query, ``output``/``answer``/``答案`` -> response, ``system``, ``id``; see
``sftforge.formats.columns_guess``), answers optional (``sftforge.api.read`` with
``require_answer=False``: every format reads a record without an answer as its prompt, and
canonical rows with ``meta`` are read as sftforge's own). ``fmt`` or ``columns`` choose the
reading explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import FormatError, RecipeError
from ..sample import Sample

__all__ = ["read_jsonl", "read_samples", "read_seeds", "write_jsonl"]


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each JSONL record; a bad line names file and line."""
    from ..io import read_records

    with read_records(str(path), container="jsonl") as source:
        for rec in source:
            if rec.error is not None:
                raise rec.error
            if not isinstance(rec.value, dict):
                raise FormatError("each line must be a JSON object", file=str(path), line=rec.line)
            yield rec.line, rec.value


def read_samples(
    path: str | Path, fmt: str | None = None, columns: str | dict[str, str] | None = None
) -> list[Sample]:
    """Samples from ``path`` with answers optional: format ``fmt``, mapping ``columns``, or
    (neither given) the detected format, else the mapping proposed from the keys."""
    from ..api import read

    how: Any = columns if columns is not None else (None if fmt is not None else "auto")
    with read(str(path), fmt, columns=how, require_answer=False) as reader:
        return [s for s in reader if isinstance(s, Sample)]


def read_seeds(path: str | Path) -> list[dict[str, Any]]:
    """Seed tasks (the Stanford ``seed_tasks.jsonl`` shape) for self_instruct: each row needs an
    ``instruction`` string; the other keys are kept as they are."""
    rows = []
    for n, obj in read_jsonl(path):
        if not isinstance(obj.get("instruction"), str) or not obj["instruction"].strip():
            raise RecipeError("a seed task needs an 'instruction' string", file=str(path), line=n)
        rows.append(obj)
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSONL, atomically (``sftforge.io``'s writer); returns how many."""
    from ..io import open_writer

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open_writer(str(p), container="jsonl") as out:
        for row in rows:
            out.write(row)
    return out.count
