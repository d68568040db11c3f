"""Cross-site request forgery: another web site making the user's browser change the studio.

Two checks, both on unsafe methods (anything but GET, HEAD, OPTIONS):

- every request: an ``Origin`` header (browsers send it on cross-origin POSTs and on every
  fetch) must be the studio's own origin, and ``Sec-Fetch-Site``, when sent, must not be
  ``cross-site``. This protects the loopback studio, which has no login at all. Its ``Host``
  must also be a loopback name (a DNS-rebinding page names its own host).
- requests authenticated by the session cookie: the ``X-CSRF-Token`` header must equal the
  session's CSRF token (given by ``GET /api/auth/me`` and, for pages, in the
  ``<meta name="csrf-token">`` tag). A cross-site page can make the browser send the cookie
  but cannot read the token. Bearer-token requests carry no ambient credential and skip this.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

from .settings import StudioSettings, is_loopback

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "check_session_request",
    "csrf_token",
    "refuse_cross_site",
]

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Starlette's TestClient sends this Host; it is a single label no public DNS resolves
_TEST_HOST = "testserver"


def _host_name(host_header: str) -> str:
    return urlsplit(f"//{host_header}").hostname or ""


def refuse_cross_site(request: Request, settings: StudioSettings) -> str | None:
    """Why the request is refused as cross-site (one line), or None."""
    host = request.headers.get("host", "")
    if is_loopback(settings.host):
        name = _host_name(host)
        if name and not (is_loopback(name) or name.endswith(".localhost") or name == _TEST_HOST):
            return f"the studio listens on loopback and does not answer to host {name!r}."
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "a request from another web site was refused."
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if parts.netloc != host:
            return f"a request from {origin} was refused: it is not this studio's page."
    elif origin == "null":
        return "a request from an opaque origin was refused."
    return None


def check_session_request(request: Request, token: str | None) -> str | None:
    """Why a cookie-session request fails the CSRF check (one line), or None."""
    if request.method in SAFE_METHODS:
        return None
    given = request.headers.get(CSRF_HEADER, "")
    if not token or not given or not hmac.compare_digest(given.encode(), token.encode()):
        return "the CSRF token is missing or wrong."
    return None


def csrf_token(request: Request) -> str:
    """The token a page puts in ``<meta name="csrf-token" content="...">`` for its scripts to send
    as ``X-CSRF-Token`` ("" where none is needed: loopback and bearer-token requests)."""
    user = getattr(request.state, "user", None)
    token = getattr(user, "csrf", None)
    return token if isinstance(token, str) else ""
