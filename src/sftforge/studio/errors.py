"""The one error shape of every studio API answer, and the handlers that make FastAPI use it.

``{"error": {"code": "not_found", "message": "one clear line", "field": null, "hint": null}}``:
our own ``ApiError``, the library's ``SftforgeError`` (400, its message, field and fix), and
FastAPI's own 404/405/422 and an unexpected exception (500, no traceback in the answer).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import SftforgeError, one_line

if TYPE_CHECKING:  # FastAPI is imported by install_error_handlers only: the library modules
    # that raise ApiError (store, imports, edits) run in jobs and benches without it
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

__all__ = ["ApiError", "error_body", "install_error_handlers"]

log = logging.getLogger("sftforge.studio")

# an HTTP status FastAPI/Starlette raises itself -> our code for it
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, a stable ``code``, one line of ``message``,
    the ``field`` it is about and the ``hint`` (the fix) when known."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.hint = hint


def error_body(
    code: str, message: str, field: str | None = None, hint: str | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": one_line(message), "field": field, "hint": hint}}


def _answer(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(error_body(code, message, field, hint), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _answer(exc.status, exc.code, exc.message, exc.field, exc.hint)


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SftforgeError)
    message = f"{exc.where}: {exc.message}" if exc.where else exc.message
    return _answer(400, "bad_input", message, exc.field, exc.hint)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    from starlette.exceptions import HTTPException as StarletteHTTPException

    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers) if exc.headers else None
    return _answer(exc.status_code, code, detail, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid request"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _answer(
        422,
        "invalid",
        f"{field}: {message}{more}" if field else message + more,
        field,
        "check the request against docs/studio.md",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # the traceback goes to the server log, never to the browser
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(500, "internal", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(SftforgeError, _library_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
