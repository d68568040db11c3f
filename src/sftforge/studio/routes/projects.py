"""``/api/projects``: list, create and show projects; create a dataset in a project."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..auth import AdminUser  # projects and datasets are managed by admins
from ._deps import StoreDep, UserDep

__all__ = ["router"]

router = APIRouter(prefix="/api/projects", tags=["projects"])


class NewName(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@router.get("")
def list_projects(store: StoreDep) -> dict[str, Any]:
    return {"projects": store.all("SELECT * FROM projects ORDER BY created_at, id")}


@router.post("", status_code=201)
def create_project(body: NewName, store: StoreDep, user: UserDep, _: AdminUser) -> dict[str, Any]:
    return store.create_project(body.name.strip(), user)


@router.get("/{project_id}")
def get_project(project_id: str, store: StoreDep) -> dict[str, Any]:
    project = store.project(project_id)
    project["datasets"] = store.all(
        "SELECT * FROM datasets WHERE project_id=? ORDER BY created_at, id", (project_id,)
    )
    return project


@router.post("/{project_id}/datasets", status_code=201)
def create_dataset(project_id: str, body: NewName, store: StoreDep, _: AdminUser) -> dict[str, Any]:
    return store.create_dataset(project_id, body.name.strip())
