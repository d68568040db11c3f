"""``create_app(settings)``: the studio's one FastAPI application.

It installs the one error shape (``errors.py``), the auth/CSRF hook (``auth.install`` when the
studio-guard module is present), every router in ``studio/routes/`` (each module's ``router``),
the static files and templates when they exist, and the job queue (started with the app).
``app.state.settings``, ``app.state.store`` and ``app.state.jobs`` are what routes use.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from .errors import install_error_handlers
from .jobs import JobQueue
from .settings import StudioSettings
from .store import Store

__all__ = ["create_app", "request_user"]

HERE = Path(__file__).parent
# modules whose jobs must be registered before the queue runs
_JOB_MODULES = ("imports", "exports")


def request_user(request: Request) -> str:
    """The name edits and jobs are attributed to: what the auth middleware put in
    ``request.state.user`` (a name, a mapping with ``name``, or an object with ``.name``), else
    ``"local"`` (loopback use needs no login)."""
    user: Any = getattr(request.state, "user", None)
    if user is None:
        return "local"
    if isinstance(user, str):
        return user
    if isinstance(user, dict):
        return str(user.get("name") or "local")
    return str(getattr(user, "name", None) or "local")


def _routers() -> list[Any]:
    """Every ``studio/routes/<module>.router``, in module-name order (a new module needs no edit
    here)."""
    package = importlib.import_module(f"{__package__}.routes")
    routers = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            routers.append(router)
    return routers


def _install_auth(app: FastAPI, settings: StudioSettings) -> None:
    """studio-guard's ``auth.install`` (users, token, sessions, CSRF) when it is there."""
    try:
        auth = importlib.import_module(f"{__package__}.auth")
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.auth":
            raise
        return
    auth.install(app, settings)


def create_app(settings: StudioSettings | None = None, *, run_jobs: bool = True) -> FastAPI:
    """The application for ``settings``; ``run_jobs=False`` leaves the job worker stopped (tests
    then run queued jobs with ``app.state.jobs.run_pending()``)."""
    settings = settings or StudioSettings()
    for name in ("versions", "uploads", "staging", "exports", "rejects"):
        settings.folder(name)
    store = Store(settings.home)
    for module in _JOB_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    jobs = JobQueue(store, settings)
    from .staging import expire_staged

    expire_staged(store, settings, settings.staging_max_age_hours * 3600)
    from .connections import encrypt_existing

    encrypt_existing(store)  # secrets an older studio stored in plaintext
    from .browse import warm_up

    warm_up()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_jobs:
            jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    app = FastAPI(
        title="sftforge studio",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads its scripts from a CDN: the studio serves nothing remote
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = jobs
    install_error_handlers(app)
    _install_auth(app, settings)
    for router in _routers():
        app.include_router(router)
    static = HERE / "static"
    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=static), name="static")
    templates = HERE / "templates"
    if templates.is_dir():
        from fastapi.templating import Jinja2Templates

        app.state.templates = Jinja2Templates(directory=templates)
    return app
