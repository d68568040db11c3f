"""Bring a local file into a dataset as a new version, through the library's reader.

``sftforge.api.read(..., on_error="skip")`` reads any format the CLI reads (``columns=`` maps
the fields when detection fails); every record ends as a row of the new version or as a line of
``rejects/<import_id>.jsonl`` with its reason, and the import records ``read = imported +
rejected``. An input whose records all fail, or that cannot be opened at all, fails the import
with the CLI's one line (file, line, field, fix) and makes no version. Imports run as jobs
(``start_import``); sources (uploads, server paths, URLs, ...) stage a file and call these.
A dataset that already has rows gets the new ones appended (the new version's parent is the head).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .._gc import gc_relaxed
from ..api import read
from ..errors import SftforgeError
from ..io.rejects import RejectsSink, nothing_kept
from ..sample import Sample, deferred_ids, id_pending
from .errors import ApiError
from .jobs import JobContext, JobQueue, register
from .store import Store, new_id, now_iso
from .versions import VersionWriter, iter_batches, row_values

__all__ = [
    "create_import",
    "fail_import",
    "import_file",
    "import_view",
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
    job_kind: str = "import",
    job_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue the import of ``path`` (a file the server may read: staged, uploaded or inside the
    data root) into ``dataset_id``; returns the import (status ``queued``) with its ``job_id``.
    ``job_kind``/``job_params``: a job that does more around the import (``sources.py``'s
    download first, clean-up after) and ends in ``run_import_job``."""
    source = {
        "name": src_name or Path(path).name,
        "format": format,
        "columns": columns,
        "encoding": encoding,
    }
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
) -> dict[str, Any]:
    """Import ``path`` now (in this thread) and return the import's row. Never raises for bad
    input: a failed import has ``status == "failed"`` and ``error`` (one line)."""
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

    writer = VersionWriter(versions_dir, head)
    ok = False
    stats = None
    seen: set[str] = set()
    try:
        if head is not None:  # the new rows are appended to the head's, as they are
            for batch in iter_batches(store.version(head)["path"]):
                seen.update(batch.column("row_id").to_pylist())
                writer.add_batch(batch)
        # gc_relaxed: the loop makes millions of short-lived acyclic objects (see _gc)
        with deferred_ids(), gc_relaxed():
            reader = read(
                path,
                format,
                on_error="skip",
                rejects=reject,
                encoding=encoding,
                columns=columns,
                kinds=("sample",),
            )
            with reader:
                for n, sample in enumerate(reader, start=1):
                    _add(writer, sample, name, reader.line, seen)
                    if progress is not None and n % 8192 == 0:
                        done, size = reader.progress()
                        progress(done / size if size else 0.0, f"{n} rows")
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


def _add(writer: VersionWriter, sample: Sample, name: str, line: int, seen: set[str]) -> None:
    """One read sample as a row: its id is the input's sample id when it had one, else
    ``<file>:<line>``. A repeated id gets ``#<line>`` (where the repeat is), and when that is
    taken too (several records on one line: a JSON array written on one line) ``#<line>.2``,
    ``#<line>.3``, ... so ids stay unique in the version."""
    base = f"{name}:{line}" if id_pending(sample) else sample.id
    row_id = base
    if row_id in seen:
        row_id = f"{base}#{line}"
        n = 1
        while row_id in seen:
            n += 1
            row_id = f"{base}#{line}.{n}"
    seen.add(row_id)
    writer.add_values(row_values(sample, row_id, src=name, src_line=line, made_by="import"))


@register("import")
def run_import_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    row = import_file(
        ctx.store,
        settings.folder("versions"),
        settings.folder("rejects"),
        params["dataset_id"],
        params["path"],
        user=ctx.user,
        import_id=params["import_id"],
        src_name=params.get("name"),
        format=params.get("format"),
        columns=params.get("columns"),
        encoding=params.get("encoding"),
        progress=ctx.progress,
    )
    if row["status"] != "done":
        raise ApiError(400, "bad_input", row["error"] or "the import failed")
    return import_view(row)
