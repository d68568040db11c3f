"""Reading generator inputs and writing outputs, failed items and rejects (JSONL).

JSONL samples are read in sftforge's canonical form (``{"messages": [...]}``); as a
convenience, rows shaped like Alpaca (``instruction``/``input``/``output``, the output optional)
or a bare ``prompt``/``question`` are turned into Samples too, so a list of instructions needs
no conversion first. Other files, or any file with a named format, go through the library
reader (``sftforge.api.read``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ..errors import FormatError, InputError, RecipeError
from ..sample import Message, Sample

__all__ = ["read_jsonl", "read_samples", "read_seeds", "row_to_sample", "write_jsonl"]


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-empty line; a bad line names file and line."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open the input: {exc.strerror}", file=str(p)) from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise FormatError(
                    f"not valid JSON: {exc}", file=str(p), line=n, hint="one JSON object per line"
                ) from exc
            if not isinstance(obj, dict):
                raise FormatError("each line must be a JSON object", file=str(p), line=n)
            yield n, obj


def row_to_sample(obj: dict[str, Any]) -> Sample:
    if "messages" in obj:
        return Sample.from_dict(obj)
    text = obj.get("instruction") or obj.get("prompt") or obj.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"no 'messages', 'instruction', 'prompt' or 'question' (keys: {', '.join(obj) or 'none'})"
        )
    if isinstance(obj.get("input"), str) and obj["input"].strip():
        text = f"{text}\n\n{obj['input']}"
    msgs = [Message("user", text)]
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        msgs.insert(0, Message("system", obj["system"]))
    answer = obj.get("output") or obj.get("response") or obj.get("answer")
    if isinstance(answer, str) and answer.strip():
        msgs.append(Message("assistant", answer))
    return Sample(messages=msgs, id=str(obj.get("id") or ""), meta=dict(obj.get("meta") or {}))


def read_samples(path: str | Path, fmt: str | None = None) -> list[Sample]:
    """Samples from ``path``: our JSONL reading (below) for ``.jsonl`` files, else — or when a
    format is named — the library reader (``sftforge.api.read``: any format, container and
    compression, detected when ``fmt`` is ``None``), with answers optional."""
    if fmt is not None or Path(path).suffix.lower() not in (".jsonl", ".ndjson"):
        from ..api import read

        with read(str(path), fmt, require_answer=False) as reader:
            return [s for s in reader if isinstance(s, Sample)]
    out: list[Sample] = []
    for n, obj in read_jsonl(path):
        try:
            s = row_to_sample(obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"not a sample: {exc}", file=str(path), line=n) from exc
        s.meta.setdefault("source", {"file": str(path), "line": n})
        out.append(s)
    return out


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
    """Write rows atomically (temp file then rename); returns how many were written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with tmp.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
            n += 1
    tmp.replace(p)
    return n
