"""``/api/auth``: log in and out, who am I, and the users (admin only); ``/login``, the page.

``POST /api/auth/login`` takes ``{"username", "password"}`` or ``{"token"}`` and sets the
session cookie (HttpOnly, SameSite=Lax; Secure on https); its answer and ``GET /api/auth/me``
carry the session's CSRF token, which the page sends back as ``X-CSRF-Token``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from ..auth import (
    SESSION_COOKIE,
    SESSION_DAYS,
    AdminUser,
    AnyUser,
    User,
    create_session,
    create_user,
    delete_session,
    list_users,
    update_user,
    user_for_login,
)
from ._deps import settings_of, store_of

__all__ = ["router"]

router = APIRouter(tags=["auth"])


class LoginBody(BaseModel):
    username: str | None = None
    password: str | None = None
    token: str | None = None


class NewUser(BaseModel):
    name: str
    password: str
    role: str = "annotator"


class UserChange(BaseModel):
    role: str | None = None
    password: str | None = None
    disabled: bool | None = None


def _me(user: User) -> dict[str, Any]:
    return {"user": user.as_json(), "csrf_token": user.csrf}


@router.post("/api/auth/login")
def login(body: LoginBody, request: Request) -> JSONResponse:
    store = store_of(request)
    client = request.client.host if request.client else ""
    user = user_for_login(
        store, settings_of(request), body.username, body.password, body.token, client
    )
    session_id, csrf_token = create_session(store, user)
    answer = JSONResponse(_me(User(user.name, user.role, "session", csrf_token)))
    answer.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/api/auth/logout")
def logout(request: Request) -> JSONResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        delete_session(store_of(request), cookie)
    answer = JSONResponse({"ok": True})
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


@router.get("/api/auth/me")
def me(user: AnyUser) -> dict[str, Any]:
    return _me(user)


@router.get("/api/auth/users")
def users(request: Request, _: AdminUser) -> dict[str, Any]:
    return {"users": list_users(store_of(request))}


@router.post("/api/auth/users", status_code=201)
def add_user(body: NewUser, request: Request, _: AdminUser) -> dict[str, Any]:
    made = create_user(store_of(request), body.name, body.password, body.role)
    return {"user": {"name": made.name, "role": made.role, "disabled": False}}


@router.patch("/api/auth/users/{name}")
def change_user(name: str, body: UserChange, request: Request, _: AdminUser) -> dict[str, Any]:
    return {
        "user": update_user(
            store_of(request), name, role=body.role, password=body.password, disabled=body.disabled
        )
    }


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sftforge studio · log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:22em;margin:4em auto">
<h1>sftforge studio</h1>
<form id="login" data-testid="login-form">
<p><label>User / 用户 <input name="username" data-testid="login-user" autocomplete="username"></label></p>
<p><label>Password / 密码 <input name="password" type="password" data-testid="login-password"
 autocomplete="current-password"></label></p>
<p><label>or token / 或令牌 <input name="token" type="password" data-testid="login-token"></label></p>
<p><button data-testid="login-submit">Log in / 登录</button> <span id="error" role="alert"></span></p>
</form>
<script>
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target), body = {};
  for (const [k, v] of f) if (v) body[k] = v;
  const r = await fetch("/api/auth/login", {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json"}});
  if (r.ok) { location.href = NEXT; return; }
  document.getElementById("error").textContent = (await r.json()).error.message;
});
</script></body></html>"""


@router.get("/login", include_in_schema=False)
def login_page(next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    script_value = json.dumps(target).replace("<", "\\u003c")  # inert inside <script>
    return HTMLResponse(_PAGE.replace("NEXT", script_value))
