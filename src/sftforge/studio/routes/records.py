"""Records: browse a version (page, sort, filter, search, histogram); read and change one row
of the head through the edits overlay (edit, review, delete, undo); commit the edits."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import browse, edits
from ..auth import AdminUser, AnnotatorUser, ReviewerUser  # the matrix: docs/studio.md
from ..errors import ApiError
from ..history import resolve
from ..versions import derive_columns, sample_of
from ._deps import JobsDep, StoreDep, UserDep

__all__ = ["router"]

router = APIRouter(prefix="/api/datasets/{dataset_id}", tags=["records"])

FilterQ = Annotated[list[str] | None, Query(description="column:op:value, e.g. chars:ge:100")]
SearchQ = Annotated[str | None, Query(max_length=500, description="substring, any language")]


@router.get("/versions/{version_id}/rows")
def browse_rows(
    response: Response,
    store: StoreDep,
    dataset_id: str,
    version_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: str | None = None,
    desc: bool = False,
    q: SearchQ = None,
    filter: FilterQ = None,
) -> dict[str, Any]:
    """One page of a version (``version_id``: an id, a tag or ``head``). On the head, rows with
    open edits show their edited state and ``edited: true``; sorting and filtering use the
    version's values. The ``Server-Timing`` header says how long the server took (the
    browser's timings show it beside the network and the page's own work)."""
    started = time.perf_counter()
    version = resolve(store, dataset_id, version_id)
    view = browse.view_of(version["path"])
    page = browse.page(
        view, offset=offset, limit=limit, sort=sort, desc=desc, q=q,
        filters=[browse.parse_filter(f) for f in filter or ()],
    )  # fmt: skip
    page["version_id"] = version["id"]
    is_head = store.dataset(dataset_id)["head_version"] == version["id"]
    marks = edits.overlay(store, dataset_id, [r["row_id"] for r in page["rows"]]) if is_head else {}
    for row in page["rows"]:
        mark = marks.get(row["row_id"])
        row["edited"] = mark is not None
        row["deleted"] = False
        if mark is not None:
            state = mark["state"]
            derived = derive_columns(sample_of(state))
            derived.pop("search")
            row.update(derived)
            row.update(
                {k: state[k] for k in ("tags", "status", "reason", "human_verified", "score")}
            )
            row.update(
                edited_by=mark["user"], edited_at=mark["at"], deleted=bool(state.get("deleted"))
            )
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return page


@router.get("/versions/{version_id}/histogram")
def column_histogram(
    store: StoreDep,
    dataset_id: str,
    version_id: str,
    column: str,
    bins: Annotated[int, Query(ge=1, le=200)] = 40,
    q: SearchQ = None,
    filter: FilterQ = None,
) -> dict[str, Any]:
    version = resolve(store, dataset_id, version_id)
    return browse.histogram(
        browse.view_of(version["path"]), column, bins=bins, q=q,
        filters=[browse.parse_filter(f) for f in filter or ()],
    )  # fmt: skip


@router.get("/rows/{row_id:path}")
def get_row(
    store: StoreDep, dataset_id: str, row_id: str, version: str | None = None
) -> dict[str, Any]:
    """One row of the head through the overlay: ``{"row", "revision", "edited", "version_id",
    "read_only"}`` (send ``revision`` back as ``base_revision`` with a change). ``version`` (an
    id, a tag or ``head``) names another version: its row as stored, ``read_only: true``."""
    if version is None:
        return edits.current_row(store, dataset_id, row_id)
    return edits.version_row(store, dataset_id, resolve(store, dataset_id, version), row_id)


class SampleEdit(BaseModel):
    sample: dict[str, Any]
    base_revision: int = Field(ge=0)


@router.put("/rows/{row_id:path}")
def edit_row(
    store: StoreDep,
    user: UserDep,
    dataset_id: str,
    row_id: str,
    body: SampleEdit,
    _: AnnotatorUser,
) -> dict[str, Any]:
    """Replace the row's sample (any field, any turn: add, delete, reorder, split turns, change
    roles, system prompt, tools). 409 when the row changed since ``base_revision``."""
    return edits.apply_edit(
        store, dataset_id, row_id, base_revision=body.base_revision, user=user, sample=body.sample
    )


@router.delete("/rows/{row_id:path}")
def delete_row(
    store: StoreDep,
    user: UserDep,
    dataset_id: str,
    row_id: str,
    base_revision: Annotated[int, Query(ge=0)],
    _: AdminUser,
) -> dict[str, Any]:
    """Delete the row (admins; annotators and reviewers reject a row instead)."""
    return edits.apply_edit(
        store, dataset_id, row_id, base_revision=base_revision, user=user, delete=True
    )


class ReviewChange(BaseModel):
    row_id: str = Field(min_length=1)
    base_revision: int = Field(ge=0)
    status: str | None = None
    reason: str | None = None
    human_verified: bool | None = None
    tags: list[str] | None = None
    score: float | None = None


@router.post("/review")
def review_row(
    store: StoreDep, user: UserDep, dataset_id: str, body: ReviewChange, _: ReviewerUser
) -> dict[str, Any]:
    """Accept / reject / flag (with a reason), mark human-verified, tag or score a row: an
    attributed, undoable edit like any other. Only the fields sent are changed."""
    changes = body.model_dump(exclude_unset=True, exclude={"row_id", "base_revision"})
    return edits.apply_edit(
        store, dataset_id, body.row_id, base_revision=body.base_revision, user=user,
        changes=changes,
    )  # fmt: skip


@router.get("/edits")
def list_edits(
    store: StoreDep, dataset_id: str, limit: Annotated[int, Query(ge=1, le=5000)] = 500
) -> dict[str, Any]:
    return {"edits": edits.open_edits(store, dataset_id, limit)}


@router.post("/edits/{edit_id}/undo")
def undo_edit(
    store: StoreDep, user: UserDep, dataset_id: str, edit_id: int, who: AnnotatorUser
) -> dict[str, Any]:
    """Undo an edit: your own (annotators and reviewers), anyone's (admins)."""
    entry = store.one("SELECT user FROM edits WHERE id=? AND dataset_id=?", (edit_id, dataset_id))
    if entry is not None and entry["user"] != user and not who.has_role("admin"):
        raise ApiError(403, "forbidden", f"edit {edit_id} is {entry['user']}'s; {user} may "
                       "undo only their own edits.", hint="ask them or an admin")  # fmt: skip
    return edits.undo(store, dataset_id, edit_id, user)


class CommitRequest(BaseModel):
    message: str = Field("", max_length=2000)


@router.post("/commit", status_code=201, response_model=None)
def commit_edits(
    store: StoreDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    body: CommitRequest,
    _: ReviewerUser,
) -> dict[str, Any] | JSONResponse:
    """The head with the open edits applied becomes a new version (the new head): ``201`` with
    the version for a small head; for a large one (more than ``edits.COMMIT_INLINE_ROWS`` rows)
    ``202`` with the queued ``commit`` job (poll ``/api/jobs/{id}``: its result is the version)."""
    done, answer = edits.request_commit(store, jobs, dataset_id, user, body.message)
    return answer if done else JSONResponse(answer, status_code=202)
