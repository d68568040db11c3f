"""What route functions share: the store, the settings, the job queue and the user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..app import request_user
from ..jobs import JobQueue
from ..settings import StudioSettings
from ..store import Store

__all__ = [
    "JobsDep",
    "SettingsDep",
    "StoreDep",
    "UserDep",
    "jobs_of",
    "settings_of",
    "store_of",
    "user_of",
]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def settings_of(request: Request) -> StudioSettings:
    settings: StudioSettings = request.app.state.settings
    return settings


def jobs_of(request: Request) -> JobQueue:
    jobs: JobQueue = request.app.state.jobs
    return jobs


def user_of(request: Request) -> str:
    return request_user(request)


StoreDep = Annotated[Store, Depends(store_of)]
SettingsDep = Annotated[StudioSettings, Depends(settings_of)]
JobsDep = Annotated[JobQueue, Depends(jobs_of)]
UserDep = Annotated[str, Depends(user_of)]
