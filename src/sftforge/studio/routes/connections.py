"""``/api/connections``: saved connections (URL, FTP, S3-compatible).

Anyone logged in may list them (to pick one for an import); only an admin creates, changes or
deletes them. No answer carries a secret: ``secret_set`` says whether one is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..auth import AdminUser, AnyUser
from ..connections import (
    create_connection,
    delete_connection,
    get_connection,
    list_connections,
    update_connection,
)
from ._deps import store_of

__all__ = ["router"]

router = APIRouter(tags=["connections"])


class NewConnection(BaseModel):
    name: str
    kind: str
    settings: dict[str, Any] = {}
    secrets: dict[str, str | None] = {}


class ConnectionChange(BaseModel):
    name: str | None = None
    settings: dict[str, Any] | None = None
    secrets: dict[str, str | None] | None = None


@router.get("/api/connections")
def all_connections(request: Request, _: AnyUser) -> dict[str, Any]:
    return {"connections": [c.as_json() for c in list_connections(store_of(request))]}


@router.post("/api/connections", status_code=201)
def add_connection(body: NewConnection, request: Request, user: AdminUser) -> dict[str, Any]:
    made = create_connection(
        store_of(request),
        user.name,
        name=body.name,
        kind=body.kind,
        settings=body.settings,
        secrets=body.secrets,
    )
    return made.as_json()


@router.get("/api/connections/{connection_id}")
def one_connection(connection_id: str, request: Request, _: AnyUser) -> dict[str, Any]:
    return get_connection(store_of(request), connection_id).as_json()


@router.patch("/api/connections/{connection_id}")
def change_connection(
    connection_id: str,
    body: ConnectionChange,
    request: Request,
    _: AdminUser,
) -> dict[str, Any]:
    changed = update_connection(
        store_of(request),
        connection_id,
        name=body.name,
        settings=body.settings,
        secrets=body.secrets,
    )
    return changed.as_json()


@router.delete("/api/connections/{connection_id}")
def remove_connection(connection_id: str, request: Request, _: AdminUser) -> dict[str, Any]:
    delete_connection(store_of(request), connection_id)
    return {"ok": True}
