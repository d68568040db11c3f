"""``/api/jobs``: the queue's jobs and their progress (the page polls ``/api/jobs/{id}``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..auth import AnyUser
from ..errors import ApiError
from ..jobs import JOB_SELECT, job_for, job_view
from ._deps import JobsDep, StoreDep

__all__ = ["router"]

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
_STATUSES = ("queued", "running", "done", "failed")


@router.get("")
def list_jobs(
    store: StoreDep,
    user: AnyUser,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if status is not None and status not in _STATUSES:
        raise ApiError(422, "invalid", f"unknown job status '{status}'", "status",
                       f"use one of: {', '.join(_STATUSES)}")  # fmt: skip
    where, args = ("WHERE jobs.status=?", (status,)) if status else ("", ())
    rows = store.all(
        f"{JOB_SELECT} {where} ORDER BY jobs.created_at DESC, jobs.id LIMIT ?", (*args, limit)
    )
    admin = user.has_role("admin")
    return {"jobs": [job_for(job_view(r), user.name, admin) for r in rows]}


@router.get("/{job_id}")
def get_job(job_id: str, jobs: JobsDep, user: AnyUser) -> dict[str, Any]:
    """One job; another user's params, result and message only for admins (``jobs.job_for``)."""
    return job_for(jobs.get(job_id), user.name, user.has_role("admin"))
