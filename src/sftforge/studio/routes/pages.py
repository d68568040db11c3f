"""The studio's HTML pages. Each template only presents: it renders the layout, the translated
labels and the ids the page works on; the page's script (``static/<page>.js``) reads and changes
the data through the same ``/api`` endpoints a script or test would use.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..i18n import LANG_COOKIE, LANGS, messages, pick_lang, translator

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _csrf_token(request: Request) -> str:
    """The token the page's script sends back in ``X-CSRF-Token``: the session's (the auth
    middleware puts the user, with its ``csrf``, in ``request.state``); empty for local use and
    token requests, which have no cookie session to protect."""
    user = getattr(request.state, "user", None)
    token = getattr(user, "csrf", None)
    return str(token) if token else ""


def _formats() -> list[str]:
    """The format names the library reads and writes (the import and export choices)."""
    from ...api import load_formats
    from ...formats.base import FORMATS

    load_formats()
    return sorted(FORMATS)


def _frameworks() -> tuple[str, ...]:
    from ...export import FRAMEWORKS

    return tuple(FRAMEWORKS)


def _page(
    request: Request,
    template: str,
    title: str,
    extra: dict[str, Any] | None = None,
    **ids: str,
) -> HTMLResponse:
    lang = pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    t = translator(lang)
    context = {
        "lang": lang,
        "langs": LANGS,
        "t": t,
        "title": t(title),
        # the strings the scripts need, embedded so a page needs no second request for them;
        # "</" is escaped so no string can close the script element
        "i18n_json": json.dumps(messages(lang), ensure_ascii=False).replace("</", "<\\/"),
        "csrf_token": _csrf_token(request),
        "page_ids": ids,
        **ids,
    }
    context.update(extra or {})
    return request.app.state.templates.TemplateResponse(request, template, context)


@router.get("/", response_class=HTMLResponse)
def projects_page(request: Request) -> HTMLResponse:
    return _page(request, "projects.html", "nav.projects")


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: str) -> HTMLResponse:
    choices = {"formats": _formats(), "frameworks": _frameworks()}
    return _page(request, "dataset.html", "page.dataset", choices, dataset_id=dataset_id)


@router.get("/datasets/{dataset_id}/import", response_class=HTMLResponse)
def upload_page(request: Request, dataset_id: str) -> HTMLResponse:
    return _page(
        request, "upload.html", "page.upload", {"formats": _formats()}, dataset_id=dataset_id
    )


@router.get("/datasets/{dataset_id}/runs", response_class=HTMLResponse)
def runs_page(request: Request, dataset_id: str) -> HTMLResponse:
    return _page(request, "runs.html", "page.runs", dataset_id=dataset_id)


@router.get("/datasets/{dataset_id}/browse", response_class=HTMLResponse)
def browse_page(request: Request, dataset_id: str) -> HTMLResponse:
    return _page(request, "browse.html", "page.browse", dataset_id=dataset_id)


@router.get("/datasets/{dataset_id}/rows/{row_id:path}", response_class=HTMLResponse)
def record_page(request: Request, dataset_id: str, row_id: str) -> HTMLResponse:
    return _page(request, "record.html", "page.record", dataset_id=dataset_id, row_id=row_id)


@router.get("/queues/{queue_id}", response_class=HTMLResponse)
def review_page(request: Request, queue_id: str) -> HTMLResponse:
    return _page(request, "review.html", "page.review", queue_id=queue_id)
