"""Spill shards and atomic files: the on-disk form of a stream between two stages.

A stage's output is a run of chunk files ``c000000.jsonl``, ``c000001.jsonl``... holding canonical
Sample JSON, one per line. Chunk files are written to a temporary name and renamed, so a chunk
either exists whole or not at all, which is what makes a killed run resumable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ..sample import Message, Sample

__all__ = [
    "atomic_write_bytes",
    "chunk_path",
    "iter_chunk",
    "iter_jsonl",
    "iter_shards",
    "load_sample",
    "write_chunk",
    "write_jsonl",
]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_jsonl(path: Path, rows: Iterable[bytes]) -> int:
    """Atomically write pre-serialised JSON rows, one per line; returns the row count."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    n = 0
    with tmp.open("wb") as fh:
        for row in rows:
            fh.write(row)
            fh.write(b"\n")
            n += 1
    os.replace(tmp, path)
    return n


def iter_jsonl(path: Path) -> Iterator[Any]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def chunk_path(stage_dir: Path, index: int, kind: str = "jsonl") -> Path:
    return stage_dir / f"c{index:06d}.{kind}"


def write_chunk(stage_dir: Path, index: int, samples: Iterable[Sample]) -> int:
    return write_jsonl(chunk_path(stage_dir, index), (s.to_json() for s in samples))


def load_sample(line: bytes) -> Sample:
    """``Sample.from_json`` with a fast path for the common shape (plain role/content turns)."""
    d = orjson.loads(line)
    if len(d) <= 3 and d.get("id") and "messages" in d and (len(d) == 2 or "meta" in d):
        msgs = [
            Message(m["role"], m["content"]) if len(m) == 2 else Message.from_dict(m)
            for m in d["messages"]
        ]
        return Sample(msgs, d["id"], meta=d.get("meta") or {})
    return Sample.from_dict(d)


def iter_chunk(path: Path) -> Iterator[Sample]:
    with path.open("rb") as fh:
        for line in fh:
            yield load_sample(line)


def iter_shards(stage_dir: Path, count: int) -> Iterator[Sample]:
    """Every sample of a finished stage, in order (chunks 0..count-1)."""
    for i in range(count):
        yield from iter_chunk(chunk_path(stage_dir, i))
