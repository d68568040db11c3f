"""``/api/datasets``: a dataset, its versions, tags, rollback, diff, imports and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..errors import ApiError
from ..imports import import_view, start_import
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
def get_version(dataset_id: str, version_id: str, store: StoreDep) -> dict[str, Any]:
    version = store.version(version_id, dataset_id)
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
    row = _import(store, import_id)
    out: list[dict[str, Any]] = []
    total = 0
    if row["rejects_path"] and Path(row["rejects_path"]).is_file():
        with open(row["rejects_path"], "rb") as fh:
            for n, line in enumerate(fh):
                total += 1
                if offset <= n < offset + limit:
                    out.append(orjson.loads(line))
    return {"total": total, "offset": offset, "limit": limit, "rejects": out}


@router.get("/imports/{import_id}/rejects.jsonl", response_model=None)
def download_rejects(import_id: str, store: StoreDep) -> FileResponse:
    row = _import(store, import_id)
    if not row["rejects_path"] or not Path(row["rejects_path"]).is_file():
        raise ApiError(404, "not_found", f"import {import_id} rejected no records")
    return FileResponse(
        row["rejects_path"],
        media_type="application/x-ndjson",
        filename=f"{import_id}.rejects.jsonl",
    )
