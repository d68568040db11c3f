"""``/api/.../runs``: recipe runs and LLM generation on a version, their rejects."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..auth import AnnotatorUser, AnyUser  # the role matrix: docs/studio.md, Security
from ..errors import ApiError
from ..jobs import job_for
from ..rejects_page import rejects_page
from ..runs import generate_recipe, get_run, list_runs, rejects_file, run_view, start_run
from ._deps import JobsDep, SettingsDep, StoreDep, UserDep

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["runs"])


class RunRequest(BaseModel):
    recipe: str = Field(min_length=1, max_length=1 << 20, description="the recipe's YAML text")
    version: str = Field("head", description="the input: a version id, tag or head")


class GenerateRequest(BaseModel):
    task: str = Field(description="answer, suggest or judge")
    version: str = Field("head", description="the input: a version id, tag or head")
    llm: dict[str, Any] = Field(
        description="connection (an llm connection's id) or base_url and api_key_env; model;"
        " max_tokens_budget, max_cost, prices, concurrency, rpm, params"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="the LLM step's options")


@router.post("/datasets/{dataset_id}/runs", status_code=202)
def create_run(
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    body: RunRequest,
    who: AnnotatorUser,
) -> dict[str, Any]:
    """Check the recipe (its mistakes answer 400 with the CLI's line) and queue its run."""
    return start_run(
        store, jobs, settings, dataset_id, recipe_text=body.recipe, version=body.version,
        user=user, may_use_env=who.has_role("admin"),
    )  # fmt: skip


@router.post("/datasets/{dataset_id}/generate", status_code=202)
def create_generation(
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    user: UserDep,
    dataset_id: str,
    body: GenerateRequest,
    who: AnnotatorUser,
) -> dict[str, Any]:
    """A generation shortcut: a recipe of one LLM step, run like any recipe."""
    text = generate_recipe(body.task, body.llm, body.options)
    return start_run(
        store, jobs, settings, dataset_id, recipe_text=text, version=body.version, user=user,
        may_use_env=who.has_role("admin"), kind="generate", keep_human=body.task == "suggest",
    )  # fmt: skip


@router.get("/datasets/{dataset_id}/runs")
def dataset_runs(store: StoreDep, dataset_id: str) -> dict[str, Any]:
    return {"runs": list_runs(store, dataset_id)}


@router.get("/runs/{run_id}")
def one_run(store: StoreDep, jobs: JobsDep, run_id: str, who: AnyUser) -> dict[str, Any]:
    """The run, with its job (status, progress, message, the progress ``detail`` by stage),
    shown as ``/api/jobs/{id}`` shows it to this user (``jobs.job_for``)."""
    run = run_view(get_run(store, run_id))
    job = jobs.get(run["job_id"]) if run["job_id"] else None
    run["job"] = job_for(job, who.name, who.has_role("admin")) if job is not None else None
    return run


@router.get("/runs/{run_id}/rejects")
def run_rejects(
    store: StoreDep,
    run_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """A page of the run's rejects: operator, reason, value, the row's id and its sample."""
    return rejects_page(rejects_file(store, get_run(store, run_id)), offset, limit)


@router.get("/runs/{run_id}/rejects.jsonl", response_model=None)
def download_run_rejects(store: StoreDep, run_id: str) -> FileResponse:
    path = rejects_file(store, get_run(store, run_id))
    if path is None:
        raise ApiError(404, "not_found", f"run {run_id} rejected no rows")
    return FileResponse(path, media_type="application/x-ndjson", filename=f"{run_id}.rejects.jsonl")
