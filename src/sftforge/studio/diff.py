"""Diff two versions of a dataset: rows added, removed and changed (matched by ``row_id``), and
a field-level diff of one changed row (per turn: role, content, reasoning, tool calls, ...; then
the lineage fields that differ: which operator, job, model or prompt made it, who edited it).

A row's content fingerprint (Python's hash of its sample and review state, so a collision could
hide a change with odds of about 2^-64 per row) is computed once per version and cached, so
paging through a diff costs only the page; the field-level diff compares the rows themselves.

The result of a diff (the indices of the rows added, removed and changed) is saved beside the
versions (``versions/diffs/<a>--<b>.npz``): versions are immutable, so it never goes stale, and
it outlives the process. A diff of large versions not computed yet (more than
``DIFF_INLINE_ROWS`` rows together; two 1M-row versions take ~15 s) runs as a ``diff`` job
(``request_diff``), which the page polls; once it is done the diff pages come from the file.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .browse import view_of
from .jobs import JobContext, JobQueue, register
from .store import Store
from .versions import LINEAGE_FIELDS, STATE_FIELDS, read_rows

__all__ = [
    "DIFF_INLINE_ROWS",
    "diff_indices",
    "diff_ready",
    "diff_rows",
    "diff_versions",
    "field_diff",
    "request_diff",
    "row_pair",
]

# two versions with more rows than this together are diffed by a job the first time (two
# 1M-row versions take ~15 s on a 2-core machine: too long to hold a request)
DIFF_INLINE_ROWS = 200_000
_INDEX_KEYS = ("added", "removed", "changed")
_RESULTS: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()

_CACHE: OrderedDict[str, tuple[pa.Array, np.ndarray]] = OrderedDict()
_LOCK = threading.Lock()
_FIELDS = ["row_id", "sample", *STATE_FIELDS]


def _fingerprints(
    path: str | Path, progress: Callable[[float], None] | None = None
) -> tuple[pa.Array, np.ndarray]:
    """(row ids, one 64-bit hash of sample + review state per row) of the version at ``path``."""
    key = str(path)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    ids: list[pa.Array] = []
    hashes: list[int] = []
    tags_at = _FIELDS.index("tags") - 1
    file = pq.ParquetFile(key, memory_map=True)
    total = max(1, file.metadata.num_rows)
    for batch in file.iter_batches(columns=_FIELDS):
        if progress is not None:
            progress(sum(len(i) for i in ids) / total)
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


def diff_versions(
    path_a: str | Path,
    path_b: str | Path,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """What changed from version A to B: ``{"added": [b indices], "removed": [a indices],
    "changed": [(a index, b index)]}`` (numpy arrays) and the row ids of each side.
    ``progress(fraction)`` is called as the versions are read."""
    half_a = (lambda f: progress(f / 2)) if progress else None
    half_b = (lambda f: progress(0.5 + f / 2)) if progress else None
    ids_a, hash_a = _fingerprints(path_a, half_a)
    ids_b, hash_b = _fingerprints(path_b, half_b)
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


def _saved(path_a: str | Path, path_b: str | Path) -> Path:
    a, b = Path(path_a), Path(path_b)
    return a.parent / "diffs" / f"{a.stem}--{b.stem}.npz"


def _remember(key: tuple[str, str], result: dict[str, np.ndarray]) -> None:
    with _LOCK:
        _RESULTS[key] = result
        _RESULTS.move_to_end(key)
        while len(_RESULTS) > 8:
            _RESULTS.popitem(last=False)


def diff_ready(path_a: str | Path, path_b: str | Path) -> bool:
    """True when the diff of A and B is known (in memory or saved), so a page of it is quick."""
    with _LOCK:
        if (str(path_a), str(path_b)) in _RESULTS:
            return True
    return _saved(path_a, path_b).exists()


def diff_indices(
    path_a: str | Path,
    path_b: str | Path,
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """``{"added", "removed", "changed"}`` of ``diff_versions``, remembered in memory and saved
    beside the versions (written to a temporary file, then renamed: a reader never sees half)."""
    key = (str(path_a), str(path_b))
    with _LOCK:
        if key in _RESULTS:
            _RESULTS.move_to_end(key)
            return _RESULTS[key]
    saved = _saved(path_a, path_b)
    if saved.exists():
        with np.load(saved) as data:
            result = {k: data[k] for k in _INDEX_KEYS}
    else:
        d = diff_versions(path_a, path_b, progress)
        result = {k: d[k] for k in _INDEX_KEYS}
        saved.parent.mkdir(parents=True, exist_ok=True)
        tmp = saved.with_name(f"{saved.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, **result)
        os.replace(tmp, saved)
    _remember(key, result)
    return result


def request_diff(
    store: Store, queue: JobQueue, dataset_id: str, a: dict[str, Any], b: dict[str, Any], user: str
) -> dict[str, Any] | None:
    """None when the diff of versions ``a`` and ``b`` can be answered in the request (known
    already, or small); else the ``diff`` job computing it (an unfinished one for the same pair
    is reused, so polling pages do not queue the work twice)."""
    if (
        diff_ready(a["path"], b["path"])
        or int(a["rows"] or 0) + int(b["rows"] or 0) <= DIFF_INLINE_ROWS
    ):
        return None
    params = {"dataset_id": dataset_id, "a": a["id"], "b": b["id"]}
    params_json = orjson.dumps(params).decode("utf-8")
    running = store.one(
        "SELECT id FROM jobs WHERE kind='diff' AND status IN ('queued', 'running') "
        "AND params_json=? ORDER BY created_at LIMIT 1",
        (params_json,),
    )
    job_id = running["id"] if running else queue.submit("diff", params, user)
    return queue.get(job_id)


@register("diff")
def _run_diff(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    a = ctx.store.version(params["a"], params["dataset_id"])
    b = ctx.store.version(params["b"], params["dataset_id"])
    ctx.progress(0.0, "reading the versions")
    done = diff_indices(a["path"], b["path"], lambda f: ctx.progress(f, "reading the versions"))
    return {"a": a["id"], "b": b["id"], **{k: len(done[k]) for k in _INDEX_KEYS}}


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
    d = diff_indices(path_a, path_b)
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
    ids_a, ids_b = view_of(path_a).table["row_id"], view_of(path_b).table["row_id"]
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
    review field (``status``...), each ``{"path", "before", "after"}``. When those show a change
    of a row in both versions, the lineage fields that differ follow (``lineage.made_by``,
    ``lineage.edited_by``...): who or what made the change. A row whose content is the same gets
    none (only its lineage moved: e.g. a recipe run that left it as it was)."""
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
    if out and row_a is not None and row_b is not None:
        out.extend(
            {"path": f"lineage.{k}", "before": row_a.get(k), "after": row_b.get(k)}
            for k in LINEAGE_FIELDS
            if row_a.get(k) != row_b.get(k)
        )
    return out


def row_pair(
    path_a: str | Path, path_b: str | Path, index_a: int | None, index_b: int | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    a = read_rows(path_a, [index_a])[0] if index_a is not None else None
    b = read_rows(path_b, [index_b])[0] if index_b is not None else None
    return a, b
