"""``/api/reviews``: review queues, the next item for keyboard-first review, decisions, undo,
progress and agreement (the service is ``studio/reviews.py``).

Roles (studio-guard's ``auth.require_role``, applied when the studio has it): building and
deleting queues and the accept / reject / flag / verify decisions need ``reviewer``; an ``edit``
decision needs ``annotator``; reading needs a user. On loopback the one user is an admin.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import reviews
from ..errors import ApiError
from ._deps import JobsDep, StoreDep, UserDep

__all__ = ["router"]

router = APIRouter(prefix="/api/reviews", tags=["reviews"])


class NewQueue(BaseModel):
    dataset_id: str = Field(min_length=1)
    name: str = Field("review", max_length=200)
    version_id: str | None = None
    preset: str | None = None  # all | llm | flagged | rejected | unverified
    q: str | None = Field(None, max_length=500)
    filters: list[str] = Field(default_factory=list, max_length=20)
    percent: float | None = None
    seed: int = 0
    reviewers: list[str] = Field(default_factory=list, max_length=100)
    per_item: int = 1


class Decision(BaseModel):
    row_id: str = Field(min_length=1)
    action: Literal["accept", "reject", "flag", "verify", "edit"]
    base_revision: int = Field(ge=0)
    reason: str | None = Field(None, max_length=2000)
    sample: dict[str, Any] | None = None


def _auth() -> Any:
    """studio-guard's ``auth`` module, or None while the studio has none."""
    try:
        return importlib.import_module(f"{__package__.rsplit('.', 1)[0]}.auth")
    except ModuleNotFoundError as err:
        if not (err.name or "").endswith("studio.auth"):
            raise
        return None


def _need(request: Request, role: str) -> None:
    """Refuse (403, the one error shape) a user without ``role``, through studio-guard's
    ``auth.require_role`` when the auth module is there (no second role check here)."""
    auth = _auth()
    if auth is not None:
        auth.require_role(role)(request)


def _check_reviewers(request: Request, store: Any, names: list[str]) -> None:
    """With users (a studio not on loopback), every reviewer named must be an active user: an
    item assigned to a misspelt name could never be decided."""
    auth = _auth()
    settings = request.app.state.settings
    if auth is None or settings.local_only or not auth.has_users(store):
        return
    known = {u["name"] for u in auth.list_users(store) if not u["disabled"]}
    unknown = [n for n in names if n.strip() and n.strip() not in known]
    if unknown:
        raise ApiError(422, "invalid", f"no active user named {unknown[0]!r}", "reviewers",
                       "name reviewers from the studio's users (GET /api/auth/users)")  # fmt: skip


@router.get("/queues")
def list_queues(
    store: StoreDep, user: UserDep, dataset_id: str | None = None, mine: bool = False
) -> dict[str, Any]:
    """The queues (of ``dataset_id``); ``mine=true``: those with items for the current user,
    each with their progress as ``mine``."""
    return {"queues": reviews.list_queues(store, dataset_id, user if mine else None)}


@router.post("/queues", status_code=201, response_model=None)
def create_queue(
    body: NewQueue, request: Request, store: StoreDep, jobs: JobsDep, user: UserDep
) -> dict[str, Any] | JSONResponse:
    """``201`` with the queue; over a large version (``reviews.QUEUE_INLINE_ROWS``) ``202``
    with the ``review_queue`` job building it (poll ``/api/jobs/{id}``: its result is the
    queue)."""
    _need(request, "reviewer")
    _check_reviewers(request, store, body.reviewers)
    done, answer = reviews.request_queue(
        store, jobs, body.dataset_id, user=user, name=body.name, version_id=body.version_id,
        preset=body.preset, q=body.q, filters=body.filters, percent=body.percent,
        seed=body.seed, reviewers=body.reviewers, per_item=body.per_item,
    )  # fmt: skip
    return answer if done else JSONResponse(answer, status_code=202)


@router.get("/queues/{queue_id}")
def get_queue(queue_id: str, store: StoreDep) -> dict[str, Any]:
    return reviews.queue(store, queue_id)


@router.delete("/queues/{queue_id}")
def delete_queue(queue_id: str, request: Request, store: StoreDep) -> dict[str, Any]:
    _need(request, "reviewer")
    reviews.delete_queue(store, queue_id)
    return {"deleted": queue_id}


@router.get("/queues/{queue_id}/items")
def list_items(
    queue_id: str,
    store: StoreDep,
    user: UserDep,
    reviewer: str | None = None,
    status: str | None = None,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    return reviews.list_items(store, queue_id, reviewer=reviewer, status=status,
                              offset=offset, limit=limit, viewer=user)  # fmt: skip


@router.get("/queues/{queue_id}/items/{row_id:path}")
def get_item(queue_id: str, row_id: str, store: StoreDep, user: UserDep) -> dict[str, Any]:
    """The current user's item on ``row_id``, with the row as they may see it (in double review:
    their own edit, nothing of the other reviewer's until both decided)."""
    return reviews.item_view(store, queue_id, user=user, row_id=row_id)


@router.get("/queues/{queue_id}/next")
def next_item(
    queue_id: str,
    store: StoreDep,
    user: UserDep,
    after: int | None = Query(None, ge=-1),
    pending: bool = True,
) -> dict[str, Any]:
    """The current user's next item after position ``after`` (pending ones by default)."""
    return reviews.step(store, queue_id, user=user, after=after, pending=pending)


@router.get("/queues/{queue_id}/prev")
def prev_item(
    queue_id: str,
    store: StoreDep,
    user: UserDep,
    before: int = Query(ge=0),
    pending: bool = False,
) -> dict[str, Any]:
    """The current user's item before position ``before`` (any status by default)."""
    return reviews.step(store, queue_id, user=user, before=before, pending=pending)


@router.post("/queues/{queue_id}/decisions")
def decide(
    queue_id: str, body: Decision, request: Request, store: StoreDep, user: UserDep
) -> dict[str, Any]:
    _need(request, "annotator" if body.action == "edit" else "reviewer")
    return reviews.decide(
        store, queue_id, user=user, row_id=body.row_id, action=body.action,
        base_revision=body.base_revision, reason=body.reason, sample=body.sample,
    )  # fmt: skip


@router.post("/queues/{queue_id}/undo")
def undo(queue_id: str, store: StoreDep, user: UserDep) -> dict[str, Any]:
    return reviews.undo_last(store, queue_id, user=user)


@router.get("/queues/{queue_id}/progress")
def progress(queue_id: str, store: StoreDep) -> dict[str, Any]:
    return reviews.queue_progress(store, queue_id)


@router.get("/queues/{queue_id}/agreement")
def agreement(queue_id: str, store: StoreDep) -> dict[str, Any]:
    return reviews.queue_agreement(store, queue_id)
