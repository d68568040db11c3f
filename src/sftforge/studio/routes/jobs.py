"""``/api/jobs``: the queue's jobs and their progress (the page polls ``/api/jobs/{id}``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..errors import ApiError
from ..jobs import job_view
from ._deps import JobsDep, StoreDep

__all__ = ["router"]

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
_STATUSES = ("queued", "running", "done", "failed")


@router.get("")
def list_jobs(
    store: StoreDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if status is not None and status not in _STATUSES:
        raise ApiError(422, "invalid", f"unknown job status '{status}'", "status",
                       f"use one of: {', '.join(_STATUSES)}")  # fmt: skip
    where, args = ("WHERE status=?", (status,)) if status else ("", ())
    rows = store.all(
        f"SELECT * FROM jobs {where} ORDER BY created_at DESC, id LIMIT ?", (*args, limit)
    )
    return {"jobs": [job_view(r) for r in rows]}


@router.get("/{job_id}")
def get_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    return jobs.get(job_id)
