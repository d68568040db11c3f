"""A version to a downloadable file: any format (``sftforge.api.write``) or any trainer
(``sftforge.export.export_samples``, its folder zipped). Runs as a job; the file lands in
``exports/<job_id>/`` and ``GET /api/exports/{job_id}/download`` serves it.

Which rows: every row of the version except rejected ones (``include_rejected`` keeps them);
each exported sample carries its review state in ``meta`` (``human_verified``, and
``review: {status, reason}`` when reviewed), so the state survives the round trip.
``sample_for_export`` is the one place that turns a row into the exported sample (studio-review
hooks its export policy in there).
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..api import resolve_format, write
from ..errors import SftforgeError
from ..io.containers import CONTAINERS
from ..sample import Sample
from .errors import ApiError
from .jobs import JobContext, JobQueue, register
from .store import Store
from .versions import iter_rows, sample_of

__all__ = ["export_file", "export_rows", "sample_for_export", "start_export"]

_WRITABLE = tuple(c for c in CONTAINERS if c not in ("object", "arrow", "xlsx", "txt"))


def sample_for_export(row: dict[str, Any]) -> Sample:
    """The sample a row exports as: its conversation, with the review state in ``meta``."""
    sample = sample_of(row)
    if row.get("human_verified"):
        sample.meta["human_verified"] = True
    if row.get("status"):
        sample.meta["review"] = {"status": row["status"], "reason": row.get("reason")}
    if row.get("tags"):
        sample.meta["tags"] = list(row["tags"])
    return sample


def export_rows(path: str | Path, *, include_rejected: bool = False) -> Iterator[Sample]:
    for row in iter_rows(path):
        if row["status"] == "rejected" and not include_rejected:
            continue
        yield sample_for_export(row)


def start_export(
    store: Store,
    queue: JobQueue,
    dataset_id: str,
    version_id: str | None,
    *,
    user: str,
    format: str | None = None,
    framework: str | None = None,
    container: str | None = None,
    include_rejected: bool = False,
    options: dict[str, Any] | None = None,
) -> str:
    """Check the request and queue the export; returns the job id (also the export's id)."""
    dataset = store.dataset(dataset_id)
    version_id = version_id or dataset["head_version"]
    if version_id is None:
        raise ApiError(
            409, "conflict", f"dataset {dataset_id} has no version yet", hint="import data first"
        )
    store.version(version_id, dataset_id)
    if (format is None) == (framework is None):
        raise ApiError(422, "invalid", "give either a format or a framework", "format")
    if format is not None:
        resolve_format(format)  # an unknown name is the library's one-line error (400)
    if framework is not None:
        from ..export import FRAMEWORKS

        if framework not in FRAMEWORKS:
            raise ApiError(422, "invalid", f"unknown framework '{framework}'", "framework",
                           f"use one of: {', '.join(FRAMEWORKS)}")  # fmt: skip
    if container is not None and container not in _WRITABLE:
        raise ApiError(422, "invalid", f"cannot write container '{container}'", "container",
                       f"use one of: {', '.join(_WRITABLE)}")  # fmt: skip
    return queue.submit(
        "export",
        {
            "dataset_id": dataset_id,
            "version_id": version_id,
            "format": format,
            "framework": framework,
            "container": container,
            "include_rejected": include_rejected,
            "options": options or {},
        },
        user,
    )


@register("export")
def _run_export(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    dataset = store.dataset(params["dataset_id"])
    version = store.version(params["version_id"], dataset["id"])
    outdir = ctx.settings.folder("exports") / ctx.job_id
    if outdir.exists():  # a re-run after a restart starts clean
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    stem = f"{_safe(dataset['name'])}-{version['id']}"
    rows = export_rows(version["path"], include_rejected=bool(params.get("include_rejected")))
    options = dict(params.get("options") or {})
    if params.get("format"):
        fmt = resolve_format(params["format"])
        container = params.get("container") or fmt.default_container or "jsonl"
        target = outdir / f"{stem}.{fmt.name}.{container}"
        result = write(rows, target, fmt, container=container,
                       allow_lossy=bool(options.get("allow_lossy")))  # fmt: skip
        count = result.count
    else:
        from ..export import export_samples

        framework = params["framework"]
        folder = outdir / framework
        samples = list(rows)
        try:
            export_samples(
                samples,
                framework,
                folder,
                name=_safe(dataset["name"]),
                model=str(options.get("model") or "PATH/TO/MODEL"),
                template=options.get("template"),
                max_length=int(options.get("max_length") or 2048),
                allow_lossy=bool(options.get("allow_lossy")),
            )
        except SftforgeError:
            raise
        count = len(samples)
        target = outdir / f"{stem}.{framework}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    zf.write(file, f"{framework}/{file.relative_to(folder)}")
    return {"file": target.name, "bytes": target.stat().st_size, "rows": count,
            "version_id": version["id"]}  # fmt: skip


def _safe(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return kept or "dataset"


def export_file(settings: Any, job: dict[str, Any]) -> Path:
    """The finished export's file (404 while it is not done)."""
    if job["kind"] != "export":
        raise ApiError(404, "not_found", f"no export {job['id']}")
    if job["status"] != "done" or not job.get("result"):
        raise ApiError(409, "conflict", f"export {job['id']} is {job['status']}",
                       hint="poll /api/jobs/{id} until it is done")  # fmt: skip
    path: Path = settings.folder("exports") / job["id"] / job["result"]["file"]
    if not path.is_file():
        raise ApiError(404, "not_found", f"the file of export {job['id']} is gone")
    return path
