"""Records of a version: browse (page, sort, filter, search, histogram), one row, edits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from .. import browse
from ._deps import StoreDep

__all__ = ["router"]

router = APIRouter(prefix="/api/datasets/{dataset_id}", tags=["records"])


@router.get("/versions/{version_id}/rows")
def browse_rows(
    store: StoreDep,
    dataset_id: str,
    version_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: str | None = None,
    desc: bool = False,
    q: Annotated[str | None, Query(max_length=500)] = None,
    filter: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    version = store.version(version_id, dataset_id)
    view = browse.view_of(version["path"])
    return browse.page(
        view, offset=offset, limit=limit, sort=sort, desc=desc, q=q,
        filters=[browse.parse_filter(f) for f in filter or ()],
    )  # fmt: skip
