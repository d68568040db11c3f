"""``/api/uploads``: resumable uploads of files and folders (see ``studio/uploads.py``).

``POST /api/uploads`` ``{name, size, rel_path?, batch?}`` -> the upload (``id``, ``offset`` 0);
``PUT /api/uploads/{id}`` with the bytes as the body and ``?offset=N`` or
``Content-Range: bytes N-M/SIZE``; ``GET`` / ``HEAD /api/uploads/{id}`` -> where to resume
(``offset``; header ``Upload-Offset``); ``POST /api/uploads/{id}/finish`` ``{extract?}`` -> the
staged files; ``DELETE`` drops an upload and its bytes.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from ..auth import AnnotatorUser, AnyUser, User
from ..errors import ApiError
from ..uploads import (
    create_upload,
    drop_upload,
    finish_upload,
    get_upload,
    write_chunk,
)
from ._deps import settings_of, store_of

__all__ = ["router"]

router = APIRouter(tags=["uploads"])
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class NewUpload(BaseModel):
    name: str
    size: int
    rel_path: str | None = None
    batch: str | None = None


class Finish(BaseModel):
    extract: bool = True


def _owner(user: User) -> str | None:
    """Whose uploads ``user`` may touch: their own (an admin: anyone's)."""
    return None if user.role == "admin" and user.via != "session" else user.name


@router.post("/api/uploads", status_code=201)
def new_upload(body: NewUpload, request: Request, user: AnnotatorUser) -> dict[str, Any]:
    made = create_upload(
        store_of(request),
        settings_of(request),
        user.name,
        name=body.name,
        size=body.size,
        rel_path=body.rel_path,
        batch=body.batch,
    )
    return made.as_json()


@router.get("/api/uploads/{upload_id}")
def upload_state(upload_id: str, request: Request, user: AnyUser) -> dict[str, Any]:
    return get_upload(store_of(request), upload_id, _owner(user)).as_json()


@router.head("/api/uploads/{upload_id}")
def upload_offset(upload_id: str, request: Request, user: AnyUser) -> Response:
    found = get_upload(store_of(request), upload_id, _owner(user))
    return Response(headers={"Upload-Offset": str(found.offset), "Upload-Length": str(found.size)})


def _offset(request: Request, offset: int | None) -> int:
    header = request.headers.get("content-range")
    if header:
        match = _RANGE.match(header.strip())
        if not match:
            raise ApiError(
                400,
                "invalid",
                f"bad Content-Range {header!r}.",
                field="Content-Range",
                hint="write it as bytes START-END/SIZE",
            )
        start = int(match.group(1))
        if offset is not None and offset != start:
            raise ApiError(400, "invalid", "offset and Content-Range disagree.", field="offset")
        return start
    if offset is None:
        raise ApiError(
            400,
            "invalid",
            "the chunk names no offset.",
            field="offset",
            hint="send ?offset=N or Content-Range: bytes N-M/SIZE",
        )
    return offset


@router.put("/api/uploads/{upload_id}")
async def put_chunk(
    upload_id: str,
    request: Request,
    user: AnnotatorUser,
    offset: int | None = None,
) -> dict[str, Any]:
    start = _offset(request, offset)
    store = store_of(request)
    try:
        found = await write_chunk(
            store, settings_of(request), upload_id, _owner(user), start, request.stream()
        )
    except ClientDisconnect:  # the bytes that arrived are kept; the client resumes after them
        found = get_upload(store, upload_id, _owner(user))
    return found.as_json()


@router.post("/api/uploads/{upload_id}/finish")
def finish(
    upload_id: str,
    request: Request,
    user: AnnotatorUser,
    body: Finish | None = None,
) -> dict[str, Any]:
    done = finish_upload(
        store_of(request),
        settings_of(request),
        upload_id,
        _owner(user),
        extract=body.extract if body else True,
    )
    return done.as_json()


@router.delete("/api/uploads/{upload_id}")
def drop(upload_id: str, request: Request, user: AnnotatorUser) -> dict[str, Any]:
    store, settings = store_of(request), settings_of(request)
    found = get_upload(store, upload_id, _owner(user))
    drop_upload(store, settings, found.id)
    return {"ok": True}
