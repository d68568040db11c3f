"""``/api/datasets``: a dataset, its versions, tags, rollback, diff, imports and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from .. import history
from ..auth import AdminUser, AnnotatorUser, AnyUser  # the role matrix: docs/studio.md, Security
from ..diff import diff_rows, field_diff, request_diff, row_pair
from ..errors import ApiError
from ..exports import export_file, start_export
from ..history import resolve
from ..imports import import_view, start_import
from ..jobs import job_for
from ..rejects_page import rejects_page
from ..settings import StudioSettings
from ..store import Store
from ._deps import JobsDep, SettingsDep, StoreDep, UserDep

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["datasets"])


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, store: StoreDep) -> dict[str, Any]:
    dataset = store.dataset(dataset_id)
    dataset["tags"] = store.all(
        "SELECT name, version_id FROM tags WHERE dataset_id=? ORDER BY name", (dataset_id,)
    )
    dataset["head"] = store.version(dataset["head_version"]) if dataset["head_version"] else None
    return dataset


@router.get("/datasets/{dataset_id}/versions")
def list_versions(dataset_id: str, store: StoreDep) -> dict[str, Any]:
    store.dataset(dataset_id)
    return {
        "versions": store.all(
            "SELECT * FROM versions WHERE dataset_id=? ORDER BY created_at DESC, id", (dataset_id,)
        )
    }


@router.get("/datasets/{dataset_id}/versions/{version_id}")
def get_version(store: StoreDep, dataset_id: str, version_id: str) -> dict[str, Any]:
    """A version by id, tag or ``head``, with its tags."""
    version = resolve(store, dataset_id, version_id)
    version_id = version["id"]
    version["tags"] = [
        r["name"]
        for r in store.all(
            "SELECT name FROM tags WHERE dataset_id=? AND version_id=? ORDER BY name",
            (dataset_id, version_id),
        )
    ]
    return version


# -- imports ---------------------------------------------------------------------------------
class ImportRequest(BaseModel):
    staged: str = Field(min_length=1, description="a file under the studio's staging/ folder")
    name: str | None = Field(None, description="the name to show (default: the file's name)")
    format: str | None = None
    columns: str | dict[str, Any] | None = None
    encoding: str | None = None
    require_answer: bool = Field(True, description="false: keep prompts without an answer")


def staged_file(settings: StudioSettings, relative: str) -> Path:
    """``relative`` inside ``home/staging`` (symlinks resolved), or a 400."""
    root = settings.folder("staging").resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ApiError(400, "bad_path", f"'{relative}' is outside the staging folder", "staged")
    if not path.is_file():
        raise ApiError(404, "not_found", f"no staged file '{relative}'", "staged",
                       "upload the file first")  # fmt: skip
    return path


@router.post("/datasets/{dataset_id}/imports", status_code=202)
def create_import(
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    body: ImportRequest,
    _: AnnotatorUser,
) -> dict[str, Any]:
    store.dataset(dataset_id)
    path = staged_file(settings, body.staged)
    return start_import(
        store,
        jobs,
        dataset_id,
        path,
        user=user,
        src_name=body.name or path.name,
        format=body.format,
        columns=body.columns,
        encoding=body.encoding,
        require_answer=body.require_answer,
        job_params={"discard_staged": True},  # deleted once imported (kept when it fails)
    )


@router.get("/datasets/{dataset_id}/imports")
def list_imports(dataset_id: str, store: StoreDep) -> dict[str, Any]:
    store.dataset(dataset_id)
    rows = store.all(
        "SELECT * FROM imports WHERE dataset_id=? ORDER BY created_at DESC, id", (dataset_id,)
    )
    return {"imports": [import_view(r) for r in rows]}


def _import(store: Store, import_id: str) -> dict[str, Any]:
    return store.must("SELECT * FROM imports WHERE id=?", (import_id,), f"import {import_id}")


def _rejects_file(store: Store, row: dict[str, Any]) -> Path | None:
    """The import's rejects file (recorded relative to the home), or None when it has none."""
    if not row["rejects_path"]:
        return None
    path = store.home / row["rejects_path"]
    return path if path.is_file() else None


@router.get("/imports/{import_id}")
def get_import(import_id: str, store: StoreDep) -> dict[str, Any]:
    return import_view(_import(store, import_id))


@router.get("/imports/{import_id}/rejects")
def list_rejects(
    store: StoreDep,
    import_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """A page of the import's rejected records, each with file, line, reason and raw text."""
    return rejects_page(_rejects_file(store, _import(store, import_id)), offset, limit)


@router.get("/imports/{import_id}/rejects.jsonl", response_model=None)
def download_rejects(import_id: str, store: StoreDep) -> FileResponse:
    row = _import(store, import_id)
    path = _rejects_file(store, row)
    if path is None:
        raise ApiError(404, "not_found", f"import {import_id} rejected no records")
    return FileResponse(
        path,
        media_type="application/x-ndjson",
        filename=f"{import_id}.rejects.jsonl",
    )


# -- tags and rollback -----------------------------------------------------------------------
class TagRequest(BaseModel):
    version: str = Field(min_length=1, description="version id, tag or head")


@router.get("/datasets/{dataset_id}/tags")
def list_tags(store: StoreDep, dataset_id: str) -> dict[str, Any]:
    store.dataset(dataset_id)
    return {
        "tags": store.all(
            "SELECT name, version_id FROM tags WHERE dataset_id=? ORDER BY name", (dataset_id,)
        )
    }


@router.put("/datasets/{dataset_id}/tags/{name}")
def put_tag(
    store: StoreDep, dataset_id: str, name: str, body: TagRequest, _: AdminUser
) -> dict[str, Any]:
    version = resolve(store, dataset_id, body.version)
    return history.set_tag(store, dataset_id, name, version["id"])


@router.delete("/datasets/{dataset_id}/tags/{name}", status_code=204, response_model=None)
def remove_tag(store: StoreDep, dataset_id: str, name: str, _: AdminUser) -> None:
    history.delete_tag(store, dataset_id, name)


class RollbackRequest(BaseModel):
    version: str = Field(min_length=1, description="version id or tag to go back to")


@router.post("/datasets/{dataset_id}/rollback", status_code=201)
def rollback(
    store: StoreDep, user: UserDep, dataset_id: str, body: RollbackRequest, _: AdminUser
) -> dict[str, Any]:
    """A new head version holding the rows of ``version`` (history is kept)."""
    version = resolve(store, dataset_id, body.version)
    return history.rollback(store, dataset_id, version["id"], user)


# -- diff --------------------------------------------------------------------------------------
_CHANGES = ("changed", "added", "removed")


@router.get("/datasets/{dataset_id}/diff", response_model=None)
def diff(
    store: StoreDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    a: str,
    b: str = "head",
    change: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any] | JSONResponse:
    """Rows added, removed and changed from version ``a`` to ``b`` (ids, tags or head). Large
    versions diffed for the first time: ``202`` with ``pending: true`` and the ``diff`` job
    (poll ``/api/jobs/{id}``, then ask again)."""
    if change is not None and change not in _CHANGES:
        raise ApiError(422, "invalid", f"unknown change '{change}'", "change",
                       f"use one of: {', '.join(_CHANGES)}")  # fmt: skip
    va, vb = resolve(store, dataset_id, a), resolve(store, dataset_id, b)
    job = request_diff(store, jobs, dataset_id, va, vb, user)
    if job is not None:
        return JSONResponse({"a": va["id"], "b": vb["id"], "pending": True, "job": job}, 202)
    out = diff_rows(va["path"], vb["path"], change=change, offset=offset, limit=limit)
    return {"a": va["id"], "b": vb["id"], **out}


@router.get("/datasets/{dataset_id}/diff/row")
def diff_row(
    store: StoreDep, dataset_id: str, a: str, row_id: str, b: str = "head"
) -> dict[str, Any]:
    """The field-level diff of one row between two versions."""
    from .. import browse

    va, vb = resolve(store, dataset_id, a), resolve(store, dataset_id, b)
    ia = browse.find_row(browse.view_of(va["path"]), row_id)
    ib = browse.find_row(browse.view_of(vb["path"]), row_id)
    if ia is None and ib is None:
        raise ApiError(404, "not_found", f"row '{row_id}' is in neither version")
    row_a, row_b = row_pair(va["path"], vb["path"], ia, ib)
    change = "added" if row_a is None else "removed" if row_b is None else "changed"
    fields = field_diff(row_a, row_b)
    if change == "changed" and not fields:
        change = "same"
    return {"a": va["id"], "b": vb["id"], "row_id": row_id, "change": change, "fields": fields}


# -- exports -----------------------------------------------------------------------------------
class ExportRequest(BaseModel):
    version: str = Field("head", description="version id, tag or head")
    format: str | None = Field(None, description="a format name (sftforge.api.write)")
    framework: str | None = Field(None, description="a trainer (sftforge.export)")
    container: str | None = None
    include_rejected: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    policy: str = Field(
        "human_first", description="review: human_first, suggestion_first, human_only"
    )


@router.post("/datasets/{dataset_id}/exports", status_code=202)
def create_export(
    store: StoreDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    body: ExportRequest,
    _: AnnotatorUser,
) -> dict[str, Any]:
    """Queue an export of a version; poll ``/api/jobs/{id}``, then download it."""
    version = resolve(store, dataset_id, body.version)
    job_id = start_export(
        store, jobs, dataset_id, version["id"], user=user, format=body.format,
        framework=body.framework, container=body.container,
        include_rejected=body.include_rejected, options=body.options, policy=body.policy,
    )  # fmt: skip
    return jobs.get(job_id)


@router.get("/exports/{export_id}")
def get_export(jobs: JobsDep, export_id: str, who: AnyUser) -> dict[str, Any]:
    job = jobs.get(export_id)
    if job["kind"] != "export":
        raise ApiError(404, "not_found", f"no export {export_id}")
    return job_for(job, who.name, who.has_role("admin"))


@router.get("/exports/{export_id}/download", response_model=None)
def download_export(jobs: JobsDep, settings: SettingsDep, export_id: str) -> FileResponse:
    path = export_file(settings, jobs.get(export_id))
    return FileResponse(path, filename=path.name)
