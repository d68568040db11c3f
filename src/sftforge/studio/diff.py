"""Diff two versions of a dataset: rows added, removed and changed (matched by ``row_id``), and
a field-level diff of one changed row (per turn: role, content, reasoning, tool calls, ...).

A row's content fingerprint (Python's hash of its sample and review state, so a collision could
hide a change with odds of about 2^-64 per row) is computed once per version and cached, so
paging through a diff costs only the page; the field-level diff compares the rows themselves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .versions import STATE_FIELDS, read_rows

__all__ = ["diff_rows", "diff_versions", "field_diff", "row_pair"]

_CACHE: OrderedDict[str, tuple[pa.Array, np.ndarray]] = OrderedDict()
_LOCK = threading.Lock()
_FIELDS = ["row_id", "sample", *STATE_FIELDS]


def _fingerprints(path: str | Path) -> tuple[pa.Array, np.ndarray]:
    """(row ids, one 64-bit hash of sample + review state per row) of the version at ``path``."""
    key = str(path)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    ids: list[pa.Array] = []
    hashes: list[int] = []
    tags_at = _FIELDS.index("tags") - 1
    for batch in pq.ParquetFile(key, memory_map=True).iter_batches(columns=_FIELDS):
        ids.append(batch.column(0))
        cols = [batch.column(i).to_pylist() for i in range(1, len(_FIELDS))]
        cols[tags_at] = [tuple(t) if t is not None else None for t in cols[tags_at]]
        # Python's own hash of each row's tuple, all in C: the cache lives in this process
        # only, so the per-process hash seed does not matter
        hashes.extend(map(hash, zip(*cols, strict=True)))
    row_ids = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    out = (row_ids, np.array(hashes, dtype=np.int64))
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > 4:
            _CACHE.popitem(last=False)
    return out


def diff_versions(path_a: str | Path, path_b: str | Path) -> dict[str, Any]:
    """What changed from version A to B: ``{"added": [b indices], "removed": [a indices],
    "changed": [(a index, b index)]}`` (numpy arrays) and the row ids of each side."""
    ids_a, hash_a = _fingerprints(path_a)
    ids_b, hash_b = _fingerprints(path_b)
    pos = pc.index_in(ids_b, value_set=ids_a)  # for each B row: its index in A, or null
    in_a = pc.is_valid(pos).to_numpy(zero_copy_only=False)
    pos_np = pc.fill_null(pos, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    b_idx = np.arange(len(ids_b), dtype=np.int64)
    added = b_idx[~in_a]
    both_b = b_idx[in_a]
    both_a = pos_np[in_a]
    differs = hash_a[both_a] != hash_b[both_b]
    removed_mask = ~pc.is_in(ids_a, value_set=ids_b).to_numpy(zero_copy_only=False)
    return {
        "ids_a": ids_a,
        "ids_b": ids_b,
        "added": added,
        "removed": np.flatnonzero(removed_mask),
        "changed": np.stack([both_a[differs], both_b[differs]], axis=1)
        if differs.any()
        else np.zeros((0, 2), dtype=np.int64),
    }


def diff_rows(
    path_a: str | Path,
    path_b: str | Path,
    *,
    change: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """Counts and one page of entries ``{"row_id", "change", "index_a", "index_b"}``: changed
    rows first, then added, then removed (``change`` keeps one kind)."""
    d = diff_versions(path_a, path_b)
    entries: list[tuple[str, int | None, int | None]] = []
    kinds = [change] if change else ["changed", "added", "removed"]
    counts = {"changed": len(d["changed"]), "added": len(d["added"]), "removed": len(d["removed"])}
    # walk the kinds in order, taking only the page's slice of each
    skip, room = offset, limit
    for kind in kinds:
        n = counts[kind]
        if skip >= n:
            skip -= n
            continue
        take = min(room, n - skip)
        if kind == "changed":
            part = d["changed"][skip : skip + take]
            entries.extend(("changed", int(a), int(b)) for a, b in part)
        elif kind == "added":
            entries.extend(("added", None, int(b)) for b in d["added"][skip : skip + take])
        else:
            entries.extend(("removed", int(a), None) for a in d["removed"][skip : skip + take])
        room -= take
        skip = 0
        if room == 0:
            break
    ids_a, ids_b = d["ids_a"], d["ids_b"]
    page = [
        {
            "row_id": (ids_b[b] if b is not None else ids_a[a]).as_py(),
            "change": kind,
            "index_a": a,
            "index_b": b,
        }
        for kind, a, b in entries
    ]
    return {**counts, "total": sum(counts[k] for k in kinds), "offset": offset, "limit": limit,
            "entries": page}  # fmt: skip


def _turn_diff(i: int, a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[dict[str, Any]]:
    if a is None or b is None:
        return [{"path": f"messages[{i}]", "before": a, "after": b}]
    return [
        {"path": f"messages[{i}].{k}", "before": a.get(k), "after": b.get(k)}
        for k in sorted(set(a) | set(b), key=lambda k: (k != "role", k != "content", k))
        if a.get(k) != b.get(k)
    ]


def field_diff(row_a: dict[str, Any] | None, row_b: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The differing fields of two rows (each with ``sample`` as JSON text): one entry per turn
    field (``messages[2].content``), per other sample field (``tools``, ``meta``...) and per
    review field (``status``...), each ``{"path", "before", "after"}``."""
    sa = orjson.loads(row_a["sample"]) if row_a else {}
    sb = orjson.loads(row_b["sample"]) if row_b else {}
    out: list[dict[str, Any]] = []
    ma, mb = sa.get("messages", []), sb.get("messages", [])
    for i in range(max(len(ma), len(mb))):
        out.extend(_turn_diff(i, ma[i] if i < len(ma) else None, mb[i] if i < len(mb) else None))
    for k in sorted((set(sa) | set(sb)) - {"messages"}):
        if sa.get(k) != sb.get(k):
            out.append({"path": k, "before": sa.get(k), "after": sb.get(k)})
    for k in STATE_FIELDS:
        va = row_a.get(k) if row_a else None
        vb = row_b.get(k) if row_b else None
        if va != vb:
            out.append({"path": k, "before": va, "after": vb})
    return out


def row_pair(
    path_a: str | Path, path_b: str | Path, index_a: int | None, index_b: int | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    a = read_rows(path_a, [index_a])[0] if index_a is not None else None
    b = read_rows(path_b, [index_b])[0] if index_b is not None else None
    return a, b
