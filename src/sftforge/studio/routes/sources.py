"""``/api/sources``: bring data in from an upload, a server path, a URL (http, ftp, s3, alone
or through a saved connection) or a Hugging Face dataset, as an import into a dataset.

``POST /api/sources/import`` ``{dataset_id, kind, ...}`` checks the source in the request (a
refused URL, a path out of the data root: 4xx at once) and queues the import
(``imports.start_import``) as a ``source_import`` job: a URL is downloaded inside the job, and the
downloaded or uploaded file is deleted after a successful import. The answer is the import with
its ``job_id``; the page polls ``/api/jobs/{id}``. ``GET /api/sources/files?path=`` lists a folder of the data root (for a file picker).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..auth import AnnotatorUser, AnyUser, User
from ..errors import ApiError
from ..imports import start_import
from ..paths import confine
from ..sources import Staged, check_url_source, stage_hf, stage_server_path, staging_target
from ..uploads import get_upload, staged_file
from ._deps import jobs_of, settings_of, store_of

__all__ = ["router"]

router = APIRouter(tags=["sources"])


class SourceImport(BaseModel):
    dataset_id: str
    kind: Literal["upload", "server_path", "url", "hf"]
    upload_id: str | None = None
    file: str | None = None  # which staged file of an upload (a folder or an archive)
    path: str | None = None
    url: str | None = None
    connection_id: str | None = None
    dataset: str | None = None
    split: str | None = None
    format: str | None = None
    columns: str | dict[str, Any] | None = None
    encoding: str | None = None
    require_answer: bool = True  # false: keep prompts without an answer (runs.py answers them)


def _need(value: str | None, field: str) -> str:
    if not value:
        raise ApiError(400, "invalid", f"this source needs {field}.", field=field)
    return value


def _stage(body: SourceImport, request: Request, user: User) -> tuple[Staged, dict[str, Any]]:
    """The file to import and what the job does around it (download first, clean up after)."""
    store, settings = store_of(request), settings_of(request)
    if body.kind == "upload":
        owner = None if user.role == "admin" and user.via != "session" else user.name
        upload = get_upload(store, _need(body.upload_id, "upload_id"), owner)
        path = staged_file(settings, upload, body.file)
        rel = body.file or upload.staged[0]
        return Staged(str(path), rel), {"upload_id": upload.id, "file": rel}
    if body.kind == "server_path":  # read where it is: nothing to clean
        return stage_server_path(settings, _need(body.path, "path")), {}
    if body.kind == "url":
        url = _need(body.url, "url")
        source = check_url_source(store, settings, url, connection_id=body.connection_id)
        target = staging_target(settings, source)
        # the job gets the URL as given and the connection's id, never the login it resolves to
        fetch = {"url": url, "connection_id": body.connection_id}
        return Staged(str(target), source.shown), {"fetch": fetch}
    return stage_hf(store, settings, dataset=_need(body.dataset, "dataset"), split=body.split), {}


@router.post("/api/sources/import", status_code=202)
def import_source(body: SourceImport, request: Request, user: AnnotatorUser) -> dict[str, Any]:
    store_of(request).dataset(body.dataset_id)  # 404 before anything is queued
    staged, job = _stage(body, request, user)
    return start_import(
        store_of(request),
        jobs_of(request),
        body.dataset_id,
        staged.path,
        user=user.name,
        src_name=staged.name,
        format=body.format,
        columns=body.columns,
        encoding=body.encoding,
        require_answer=body.require_answer,
        job_kind="source_import",
        job_params=job,
    )


@router.get("/api/sources/files")
def list_files(request: Request, _: AnyUser, path: str = ".") -> dict[str, Any]:
    settings = settings_of(request)
    folder = confine(settings.data_root, path)
    if not folder.is_dir():
        raise ApiError(400, "invalid", "not a folder.", field="path")
    root = os.path.realpath(str(settings.data_root))
    entries = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        real = os.path.realpath(entry.path)
        if os.path.commonpath([root, real]) != root:
            continue  # a symlink out of the data root is not shown
        is_dir = os.path.isdir(real)
        entries.append(
            {"name": entry.name, "dir": is_dir, "size": None if is_dir else os.path.getsize(real)}
        )
    rel = os.path.relpath(folder, root)
    return {"path": "." if rel == "." else rel.replace(os.sep, "/"), "entries": entries}
