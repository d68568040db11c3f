"""Who is asking: users with roles, sessions, the token, and the loopback rule.

- Bound to loopback (``127.0.0.1``, ``::1``, ``localhost``): no login; every request is the
  user ``local`` with role ``admin`` (the studio is one person's tool on their machine).
- Bound to anything else: every ``/api`` route and page needs a session cookie (from
  ``POST /api/auth/login`` with a user's password or the token) or ``Authorization: Bearer
  <token>``; pages without one redirect to ``/login``. ``check_bind`` refuses to start such a
  studio with neither users nor a token.

Roles, each including the ones after it: ``admin`` (users, connections, server paths),
``reviewer`` (accept, reject, mark verified), ``annotator`` (edit). Passwords are hashed with
``hashlib.scrypt`` (salted, n=2^14, r=8, p=1); session ids are 32 random bytes, stored only as
their SHA-256, sent in an HttpOnly, SameSite=Lax cookie. CSRF checks are ``csrf.py``'s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..errors import SftforgeError
from . import csrf
from .errors import ApiError, error_body
from .settings import StudioSettings, is_loopback
from .store import Store, now_iso

__all__ = [
    "ADMIN",
    "ANNOTATOR",
    "REVIEWER",
    "ROLES",
    "SESSION_COOKIE",
    "AdminUser",
    "AnnotatorUser",
    "AnyUser",
    "ReviewerUser",
    "User",
    "check_bind",
    "create_session",
    "create_user",
    "current_user",
    "delete_session",
    "hash_password",
    "install",
    "list_users",
    "require_role",
    "update_user",
    "user_for_login",
    "verify_password",
]

ROLES = ("admin", "reviewer", "annotator")
SESSION_COOKIE = "sftforge_session"
SESSION_DAYS = 7
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users(
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions(
    id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
"""
# paths anyone may reach without logging in (the login page and what it needs)
_OPEN_PATHS = frozenset({"/login", "/api/auth/login", "/favicon.ico"})
_OPEN_PREFIX = "/static/"


@dataclass(frozen=True)
class User:
    """The person behind a request; ``via`` says how they proved it (local, session, token)."""

    name: str
    role: str
    via: str
    csrf: str | None = None  # the session's CSRF token (None for local and token requests)

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) <= ROLES.index(role)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "via": self.via}


LOCAL_USER = User("local", "admin", "local")
TOKEN_USER_NAME = "token"


def _schema(store: Store) -> None:
    store.ensure_schema("auth", _SCHEMA)


# -- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + f"{b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            dklen=len(want),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# -- users ----------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ApiError(
            400,
            "invalid",
            f"unknown role {role!r}.",
            field="role",
            hint=f"one of {', '.join(ROLES)}",
        )


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ApiError(
            400, "weak_password", "the password needs at least 8 characters.", field="password"
        )


def create_user(store: Store, name: str, password: str, role: str) -> User:
    """A new user; 409 when the name is taken."""
    _schema(store)
    _check_role(role)
    _check_password(password)
    name = name.strip()
    if not name or len(name) > 64 or name in ("local", TOKEN_USER_NAME):
        raise ApiError(
            400, "invalid", f"the user name {name!r} is empty, too long or reserved.", field="name"
        )
    with store.tx() as db:
        if db.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
            raise ApiError(409, "conflict", f"user {name!r} exists.", field="name")
        db.execute(
            "INSERT INTO users VALUES(?,?,?,0,?)", (name, role, hash_password(password), now_iso())
        )
    return User(name, role, "session")


def list_users(store: Store) -> list[dict[str, Any]]:
    _schema(store)
    return [
        {"name": r["name"], "role": r["role"], "disabled": bool(r["disabled"])}
        for r in store.all("SELECT name, role, disabled FROM users ORDER BY name")
    ]


def update_user(
    store: Store,
    name: str,
    *,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> dict[str, Any]:
    """Change a user's role, password or disabled flag; a new password or disabling ends the
    user's sessions."""
    _schema(store)
    if store.one("SELECT 1 AS x FROM users WHERE name=?", (name,)) is None:
        raise ApiError(404, "not_found", f"no user {name!r}.", field="name")
    with store.tx() as db:
        if role is not None:
            _check_role(role)
            db.execute("UPDATE users SET role=? WHERE name=?", (role, name))
        if password is not None:
            _check_password(password)
            db.execute(
                "UPDATE users SET password_hash=? WHERE name=?", (hash_password(password), name)
            )
        if disabled is not None:
            db.execute("UPDATE users SET disabled=? WHERE name=?", (int(disabled), name))
        if password is not None or disabled:
            db.execute("DELETE FROM sessions WHERE user=?", (name,))
    return next(u for u in list_users(store) if u["name"] == name)


def has_users(store: Store) -> bool:
    _schema(store)
    return store.one("SELECT 1 AS x FROM users WHERE disabled=0 LIMIT 1") is not None


def user_for_login(
    store: Store,
    settings: StudioSettings,
    name: str | None,
    password: str | None,
    token: str | None,
    client: str = "",
) -> User:
    """The user a login proves, or 401 (one message for a wrong name and a wrong password);
    429 after ``LOGIN_TRIES`` failures from one client for one name within ``LOGIN_WINDOW_S``."""
    _schema(store)
    key = (str(store.path), client, TOKEN_USER_NAME if token is not None else (name or ""))
    _throttle(key)
    if token is not None:
        if settings.token and hmac.compare_digest(token.encode(), settings.token.encode()):
            return User(TOKEN_USER_NAME, "admin", "session")
        _failed(key)
        raise ApiError(401, "unauthorized", "the token is wrong.", field="token")
    row = store.one("SELECT * FROM users WHERE name=? AND disabled=0", (name or "",))
    stored = row["password_hash"] if row else _DUMMY_HASH  # the same scrypt time either way
    if row is None or not verify_password(password or "", stored):
        _failed(key)
        raise ApiError(401, "unauthorized", "wrong user name or password.", field="password")
    _FAILURES.pop(key, None)
    return User(row["name"], row["role"], "session")


LOGIN_TRIES = 10
LOGIN_WINDOW_S = 300.0
_DUMMY_HASH = hash_password("not-a-password")
_FAILURES: dict[tuple[str, str, str], list[float]] = {}
_FAILURES_LOCK = threading.Lock()


def _throttle(key: tuple[str, str, str]) -> None:
    """Password guessing is slowed to ``LOGIN_TRIES`` per window per client and name."""
    now = time.monotonic()
    with _FAILURES_LOCK:
        recent = [t for t in _FAILURES.get(key, []) if now - t < LOGIN_WINDOW_S]
        _FAILURES[key] = recent
    if len(recent) >= LOGIN_TRIES:
        raise ApiError(
            429,
            "too_many_requests",
            f"too many failed logins; wait {int(LOGIN_WINDOW_S - (now - recent[0])) + 1} s.",
            hint="check the user name and password",
        )


def _failed(key: tuple[str, str, str]) -> None:
    with _FAILURES_LOCK:
        _FAILURES.setdefault(key, []).append(time.monotonic())


# -- sessions -------------------------------------------------------------------------------


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def create_session(store: Store, user: User) -> tuple[str, str]:
    """A new session for ``user``: (the cookie value, its CSRF token)."""
    _schema(store)
    session_id = secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    expires = now + timedelta(days=SESSION_DAYS)
    store.conn().execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
    store.conn().execute(
        "INSERT INTO sessions VALUES(?,?,?,?,?)",
        (_digest(session_id), user.name, token, now_iso(), expires.isoformat()),
    )
    return session_id, token


def delete_session(store: Store, session_id: str) -> None:
    _schema(store)
    store.conn().execute("DELETE FROM sessions WHERE id_hash=?", (_digest(session_id),))


def session_user(store: Store, session_id: str) -> User | None:
    """The user of a live session (expired ones and disabled users give None)."""
    _schema(store)
    row = store.one(
        "SELECT s.user, s.csrf, s.expires_at, u.role, u.disabled FROM sessions s "
        "LEFT JOIN users u ON u.name = s.user WHERE s.id_hash=?",
        (_digest(session_id),),
    )
    if row is None or row["expires_at"] < datetime.now(timezone.utc).isoformat():
        return None
    if row["user"] == TOKEN_USER_NAME:
        return User(TOKEN_USER_NAME, "admin", "session", row["csrf"])
    if row["role"] is None or row["disabled"]:
        return None
    return User(row["user"], row["role"], "session", row["csrf"])


# -- the rule, per request ------------------------------------------------------------------


def check_bind(settings: StudioSettings, store: Store | None = None) -> None:
    """Refuse (``SftforgeError``, for the CLI's one line) to serve a non-loopback address with
    neither a token nor a user: anyone on the network could read and change every dataset."""
    if is_loopback(settings.host) or settings.token:
        return
    if has_users(store or Store(settings.home)):
        return
    raise SftforgeError(
        f"refusing to listen on {settings.host} with no login: anyone on the network could use "
        "the studio.",
        hint="start it with --token TOKEN (then add users at /api/auth/users), or add users from "
        "a studio on 127.0.0.1 with the same --home first, or listen on 127.0.0.1",
    )


def _authenticate(request: Request, settings: StudioSettings, store: Store) -> User | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
        if settings.token and hmac.compare_digest(given.encode(), settings.token.encode()):
            return User(TOKEN_USER_NAME, "admin", "token")
        return None
    cookie = request.cookies.get(SESSION_COOKIE)
    return session_user(store, cookie) if cookie else None


def install(app: FastAPI, settings: StudioSettings) -> None:
    """The auth and CSRF middleware: sets ``request.state.user`` on every request, or answers
    401 (``/api``) / redirects to ``/login`` (pages) when a login is needed and missing."""

    @app.middleware("http")
    async def _auth(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        answer = await _gate(request, call_next)
        # no framing by other sites (a hidden accept button), no content sniffing
        answer.headers.setdefault("X-Frame-Options", "DENY")
        answer.headers.setdefault("X-Content-Type-Options", "nosniff")
        answer.headers.setdefault("Referrer-Policy", "same-origin")
        return answer

    async def _gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        refused = csrf.refuse_cross_site(request, settings)
        if refused is not None:
            return _json(403, "csrf", refused, "reload the page and try again")
        store: Store = request.app.state.store
        local = is_loopback(settings.host)
        user = LOCAL_USER if local else _authenticate(request, settings, store)
        if user is None:
            if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX):
                request.state.user = None
                return await call_next(request)
            if path.startswith("/api"):
                return _json(
                    401,
                    "unauthorized",
                    "log in first: this studio needs a user or the token.",
                    "POST /api/auth/login, or send Authorization: Bearer <token>",
                )
            return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        if user.via == "session" and path != "/api/auth/login":  # a login uses no session
            problem = csrf.check_session_request(request, user.csrf)
            if problem is not None:
                return _json(
                    403, "csrf", problem, "send the X-CSRF-Token header from GET /api/auth/me"
                )
        request.state.user = user
        return await call_next(request)


def _json(status: int, code: str, message: str, hint: str | None) -> JSONResponse:
    return JSONResponse(error_body(code, message, None, hint), status_code=status)


def current_user(request: Request) -> User:
    """FastAPI dependency: the request's user (401 where none, e.g. on an open path)."""
    user = getattr(request.state, "user", None)
    if user is None:
        if is_loopback(request.app.state.settings.host) and not hasattr(request.state, "user"):
            return LOCAL_USER  # an app built without install(): loopback rules
        raise ApiError(401, "unauthorized", "log in first.", hint="POST /api/auth/login")
    assert isinstance(user, User)
    return user


def require_role(role: str) -> Callable[[Request], User]:
    """FastAPI dependency: the request's user when they have ``role`` (or above), else 403."""
    _check_role(role)

    def dependency(request: Request) -> User:
        user = current_user(request)
        if not user.has_role(role):
            raise ApiError(
                403,
                "forbidden",
                f"this needs the {role} role; {user.name} is {user.role}.",
                hint="ask an admin",
            )
        return user

    return dependency


# the role checks as FastAPI dependencies: ``user: User = Depends(ADMIN)``
ADMIN = require_role("admin")
REVIEWER = require_role("reviewer")
ANNOTATOR = require_role("annotator")
# route parameter types: ``def route(user: AdminUser)``
AnyUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(ADMIN)]
ReviewerUser = Annotated[User, Depends(REVIEWER)]
AnnotatorUser = Annotated[User, Depends(ANNOTATOR)]
