"""Bring a local file into a dataset as a new version, through the library's reader.

``sftforge.api.read(..., on_error="skip")`` reads any format the CLI reads (``columns=`` maps
the fields when detection fails); every record ends as a row of the new version or as a line of
``rejects/<import_id>.jsonl`` with its reason, and the import records ``read = imported +
rejected``. An input whose records all fail, or that cannot be opened at all, fails the import
with the CLI's one line (file, line, field, fix) and makes no version. Imports run as jobs
(``start_import``); sources (uploads, server paths, URLs, ...) stage a file and call these.
A dataset that already has rows gets the new ones appended (the new version's parent is the head).

The records are decoded by ``convert``'s piece loop (``sftforge.convert.decode_pieces``): for a
large input its worker processes parse each piece, make its Samples, their JSON and derived
columns (``versions.samples_batch``) and send back one Arrow batch per piece; this process makes
the row ids unique and writes the batches in input order (``VersionWriter.add_rows``), so the
version (id and files) is the one a single process makes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from .. import convert as convert_module
from .._gc import gc_relaxed
from ..api import read
from ..convert import decode_pieces
from ..errors import SftforgeError
from ..io.rejects import RejectsSink, nothing_kept
from ..sample import Sample, id_pending
from .errors import ApiError
from .jobs import JobContext, JobQueue, register
from .store import Store, new_id, now_iso
from .versions import VersionWriter, arrow_column, iter_batches, samples_batch

__all__ = [
    "create_import",
    "fail_import",
    "import_file",
    "import_view",
    "job_import_options",
    "run_import_job",
    "start_import",
]

ProgressFn = Callable[[float, str], None]


def import_view(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["source"] = orjson.loads(out.pop("source_json"))
    out["has_rejects"] = bool(out.pop("rejects_path", None))
    return out


def create_import(
    store: Store, dataset_id: str, source: dict[str, Any], user: str, import_id: str | None = None
) -> str:
    store.dataset(dataset_id)
    import_id = import_id or new_id("i")
    store.conn().execute(
        "INSERT INTO imports(id, dataset_id, version_id, source_json, status, created_by,"
        " created_at) VALUES(?, ?, NULL, ?, 'queued', ?, ?)",
        (import_id, dataset_id, orjson.dumps(source).decode("utf-8"), user, now_iso()),
    )
    return import_id


def start_import(
    store: Store,
    queue: JobQueue,
    dataset_id: str,
    path: str | Path,
    *,
    user: str,
    src_name: str | None = None,
    format: str | None = None,
    columns: str | dict[str, Any] | None = None,
    encoding: str | None = None,
    require_answer: bool = True,
    job_kind: str = "import",
    job_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue the import of ``path`` (a file the server may read: staged, uploaded or inside the
    data root) into ``dataset_id``; returns the import (status ``queued``) with its ``job_id``.
    ``require_answer=False`` keeps prompts without an answer (to be answered by a generation
    run, ``runs.py``).
    ``job_kind``/``job_params``: a job that does more around the import (``sources.py``'s
    download first, clean-up after) and ends in ``run_import_job``."""
    source: dict[str, Any] = {
        "name": src_name or Path(path).name,
        "format": format,
        "columns": columns,
        "encoding": encoding,
    }
    if not require_answer:  # recorded only when asked, so earlier imports read the same
        source["require_answer"] = False
    import_id = create_import(store, dataset_id, source, user)
    job_id = queue.submit(
        job_kind,
        {
            "import_id": import_id,
            "dataset_id": dataset_id,
            "path": str(path),
            **source,
            **(job_params or {}),
        },
        user,
    )
    row = store.must("SELECT * FROM imports WHERE id=?", (import_id,), f"import {import_id}")
    return {**import_view(row), "job_id": job_id}


def _set(store: Store, import_id: str, **values: Any) -> None:
    cols = ", ".join(f"{k}=?" for k in values)
    store.conn().execute(f"UPDATE imports SET {cols} WHERE id=?", (*values.values(), import_id))


def fail_import(store: Store, import_id: str, error: str) -> None:
    """Record an import that failed before reading (e.g. its download): one line for the page."""
    _set(store, import_id, status="failed", error=error)


def _shown(text: str, path: Path, name: str) -> str:
    """A library message naming the staged file by the name the user knows it by."""
    return text.replace(str(path), name)


def import_file(
    store: Store,
    versions_dir: Path,
    rejects_dir: Path,
    dataset_id: str,
    path: str | Path,
    *,
    user: str,
    import_id: str | None = None,
    src_name: str | None = None,
    format: str | None = None,
    columns: str | dict[str, Any] | None = None,
    encoding: str | None = None,
    progress: ProgressFn | None = None,
    workers: int | None = None,
    require_answer: bool = True,
) -> dict[str, Any]:
    """Import ``path`` now (in this thread) and return the import's row. Never raises for bad
    input: a failed import has ``status == "failed"`` and ``error`` (one line).

    The input is decoded by ``convert``'s piece loop (``decode_pieces``): ``workers`` processes
    as in ``convert`` (default: the idle CPUs for inputs of 16 MiB or more, else this one); the
    version is the same whatever their number."""
    path = Path(path)
    name = src_name or path.name
    if import_id is None:
        import_id = create_import(
            store,
            dataset_id,
            {"name": name, "format": format, "columns": columns, "encoding": encoding},
            user,
        )
    _set(store, import_id, status="running", error=None)
    dataset = store.dataset(dataset_id)
    head = dataset["head_version"]
    rejects_path = Path(rejects_dir) / f"{import_id}.jsonl"
    # recorded relative to the home when inside it, like versions: the home may move
    kept_as = (
        str(rejects_path.relative_to(store.home))
        if rejects_path.is_relative_to(store.home)
        else str(rejects_path)
    )
    sink = RejectsSink(rejects_path)

    def reject(entry: dict[str, Any]) -> None:
        error = entry.get("error")
        sink({**entry, "file": name, "error": _shown(error, path, name) if error else error})

    writer = VersionWriter(
        versions_dir, head, dataset_id=dataset_id, background=_write_behind(path, workers)
    )
    ok = False
    stats = None
    seen = SeenIds()
    try:
        if head is not None:  # the new rows are appended to the head's, as they are
            for batch in iter_batches(store.version(head)["path"]):
                ids = batch.column("row_id")
                if not seen.add_new(ids, values := ids.to_pylist()):  # (two with one hash)
                    seen.exact().update(values)
                writer.add_batch(batch)
            writer.wait()  # (convert's helpers are forked next: the writing thread idle)
        reader = read(
            path,
            format,
            on_error="skip",
            rejects=reject,
            encoding=encoding,
            columns=columns,
            kinds=("sample",),
            require_answer=require_answer,
        )
        with reader:
            # convert's piece loop: parsing, Samples, their JSON and the derived columns in
            # worker processes for large inputs; rows come back as batches, in input order
            take = _Taker(writer, seen, reader, progress)
            # gc_relaxed: the rows are millions of short-lived acyclic objects (see _gc)
            with gc_relaxed():
                decode_pieces(reader, _rows_maker(name), take, workers=workers)
            stats = reader.stats
        if stats.ok == 0:
            err = nothing_kept(name, stats.read, dict(stats.by_reason), reader.format.name)
            first = reader.errors[0] if reader.errors else None
            message = str(err) if first is None else f"{err.message} The first problem: {first}"
            raise SftforgeError(_shown(message, path, name))
        version_id, vpath, rows = writer.finish()
        ok = True
    except (SftforgeError, OSError) as err:
        writer.abort()
        sink.close(ok=True)
        _set(
            store,
            import_id,
            status="failed",
            error=_shown(str(err), path, name),
            **_counts(stats),
            rejects_path=kept_as if sink.count else None,
        )
        return _row(store, import_id)
    finally:
        if not ok:
            writer.abort()
    sink.close(ok=True)
    with store.tx() as conn:
        store.add_version(
            conn,
            version_id=version_id,
            dataset_id=dataset_id,
            parent_id=head,
            kind="import",
            message=f"import {name}",
            user=user,
            rows=rows,
            path=str(vpath),
        )
        conn.execute(
            "UPDATE imports SET status='done', version_id=?, read=?, imported=?, rejected=?,"
            " rejects_path=? WHERE id=?",
            (
                version_id,
                stats.read,
                stats.ok,
                stats.rejected,
                kept_as if sink.count else None,
                import_id,
            ),
        )
    return _row(store, import_id)


def _counts(stats: Any) -> dict[str, int]:
    if stats is None:
        return {}
    return {"read": stats.read, "imported": 0, "rejected": stats.read}


def _row(store: Store, import_id: str) -> dict[str, Any]:
    return store.must("SELECT * FROM imports WHERE id=?", (import_id,), f"import {import_id}")


def _rows_maker(name: str) -> Callable[[list[Sample], list[int]], Any]:
    """What each piece of the input becomes where it is decoded (a worker process for large
    inputs): its rows as one record batch, each ``row_id`` the row's base id (``_base_id``)."""

    def rows(samples: list[Sample], lines: list[int]) -> Any:
        if not samples:  # a piece of rejects only (or the records read to detect the format)
            return None
        ids = [_base_id(s, name, line) for s, line in zip(samples, lines, strict=True)]
        return samples_batch(samples, ids, lines, src=name, made_by="import")

    return rows


def _base_id(sample: Sample, name: str, line: int) -> str:
    """A read sample's id: the input's sample id when it had one, else ``<file>:<line>``."""
    return f"{name}:{line}" if id_pending(sample) else sample.id


class _Taker:
    """Each piece's batch of rows, in input order: ids made unique, then written."""

    def __init__(
        self, writer: VersionWriter, seen: SeenIds, reader: Any, progress: ProgressFn | None
    ) -> None:
        self.writer, self.seen, self.reader, self.progress = writer, seen, reader, progress
        self.n = 0
        self.tried: dict[str, int] = {}  # (``_unique``)

    def __call__(self, batch: Any, count: int) -> None:
        if not count:
            return
        column = batch.column(0)
        values = column.to_pylist()
        if not self.seen.add_new(column, values):  # a repeated id: made unique, exactly
            exact = self.seen.exact()
            lines = batch.column("src_line").to_pylist()
            tried = self.tried
            ids = [
                _unique(base, line, exact, tried) for base, line in zip(values, lines, strict=True)
            ]
            batch = batch.set_column(0, "row_id", arrow_column(ids, pa.string()))
        self.writer.add_rows(batch)
        before, self.n = self.n, self.n + count
        if self.progress is not None and before // 8192 != self.n // 8192:
            done, size = self.reader.progress()
            self.progress(done / size if size else 0.0, f"{self.n} rows")


class SeenIds:
    """The row ids a version has so far, for making new ones unique, in little memory: 8-byte
    hashes in sorted numpy runs and the ids themselves as Arrow strings (~30 bytes an id, where
    a Python set of them took ~110: 100 MB at a million rows). ``add_new`` answers exactly: a
    hash seen before (a repeated id, or two ids with one hash) switches to the exact set of the
    strings, made then from the ids kept (the input has repeated ids: it needs them anyway)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []  # sorted hashes, each run at least twice the next
        self._kept: list[pa.Array] = []
        self._exact: set[str] | None = None

    def add_new(self, ids: pa.Array, values: list[str]) -> bool:
        """Add ``ids`` (``values``: the same as Python strings) when they are unique among
        themselves and none was added before, and say so; else add nothing: False."""
        if len(set(values)) != len(values):
            return False
        if self._exact is not None:
            if not self._exact.isdisjoint(values):
                return False
            self._exact.update(values)
            return True
        hashes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        runs = self._runs
        for run in runs:
            at = np.searchsorted(run, hashes).clip(max=len(run) - 1)
            if (run[at] == hashes).any():
                return False
        if not len(values):
            return True
        self._kept.append(pa.concat_arrays([ids]))  # a copy: not the whole batch's buffers
        runs.append(np.sort(hashes))
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
            last = runs.pop()
            runs[-1] = np.sort(np.concatenate([runs[-1], last]))
        return True

    def exact(self) -> set[str]:
        """The ids as a set of strings, from now on the one kept (``_unique`` adds to it)."""
        if self._exact is None:
            self._exact = {v for arr in self._kept for v in arr.to_pylist()}
            self._runs, self._kept = [], []
        return self._exact


def _write_behind(path: Path, workers: int | None) -> bool:
    """Whether the version is written by a thread of its own (``VersionWriter(background=)``):
    only where a CPU is left idle by the import's processes (``workers`` as ``decode_pieces``
    takes them). On a busy machine the two threads took turns at the GIL: more CPU and more
    time than writing in turn (200k rows at load 8: 4.2 against 3.9 s of CPU, 7.6 against 6.2 s)."""
    idle = convert_module.idle_cpus()
    if workers is None:
        workers = idle if _size(str(path)) >= convert_module.PARALLEL_MIN_BYTES else 1
    return idle > workers


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # (import_file says what is wrong with it)
        return 0


def _unique(base: str, line: int, seen: set[str], tried: dict[str, int]) -> str:
    """A repeated id gets ``#<line>`` (where the repeat is), and when that is taken too
    (several records on one line: a JSON array written on one line) ``#<line>.2``,
    ``#<line>.3``, ... so ids stay unique in the version. ``tried``: the last suffix number
    given for each ``<id>#<line>``, where the search goes on (the ids below it are all taken:
    ``seen`` only grows), so the n-th repeat on one line costs one step, not n (40,000 records
    of a one-line array took minutes)."""
    row_id = base
    if row_id in seen:
        row_id = stem = f"{base}#{line}"
        n = tried.get(stem, 1)
        if n > 1:
            row_id = f"{stem}.{n}"
        while row_id in seen:
            n += 1
            row_id = f"{stem}.{n}"
        tried[stem] = n
    seen.add(row_id)
    return row_id


def job_import_options(params: dict[str, Any]) -> dict[str, Any]:
    """``import_file``'s reading options from an import job's ``params`` (the job thread and the
    import process read them alike)."""
    return {
        "src_name": params.get("name"),
        "format": params.get("format"),
        "columns": params.get("columns"),
        "encoding": params.get("encoding"),
        "require_answer": params.get("require_answer", True),
    }


@register("import")
def run_import_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    workers = settings.import_workers
    # convert's helpers, forked in a process of its own (import_process), for an input large
    # enough that convert would use them (below, starting that process costs more than it saves)
    if workers > 1 and _size(params["path"]) >= convert_module.PARALLEL_MIN_BYTES:
        from .import_process import import_in_process

        row = import_in_process(ctx, params, workers)
    else:
        row = import_file(
            ctx.store,
            settings.folder("versions"),
            settings.folder("rejects"),
            params["dataset_id"],
            params["path"],
            user=ctx.user,
            import_id=params["import_id"],
            progress=ctx.progress,
            workers=1,
            **job_import_options(params),
        )
    if row["status"] != "done":
        raise ApiError(400, "bad_input", row["error"] or "the import failed")
    if params.get("discard_staged"):  # the core route's staged file: imported, so deleted
        from .staging import discard_staged

        discard_staged(ctx.store, settings, params["path"])
    return import_view(row)
