"""Auth and CSRF: loopback needs no login; any other address needs a session or the token on
every /api route and page; roles; the session's CSRF token on unsafe methods; cross-site
requests refused even on loopback; every refusal in the one error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from guardkit import assert_error, client, settings

from sftforge.errors import SftforgeError
from sftforge.studio.auth import (
    LOGIN_TRIES,
    check_bind,
    create_user,
    hash_password,
    verify_password,
)
from sftforge.studio.store import Store

TOKEN = "tok-Zq81-secret-value"
PASSWORD = "pw-Correct-Horse-9"


def test_password_hashing() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored  # salted
    assert not verify_password(PASSWORD, "md5$nonsense")


def test_loopback_needs_no_login(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    answer = c.get("/api/auth/me")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert c.get("/api/nothing").headers["X-Frame-Options"] == "DENY"
    me = answer.json()
    assert me["user"] == {"name": "local", "role": "admin", "via": "local"}
    assert c.get("/api/connections").status_code == 200
    assert (
        c.post(
            "/api/connections",
            json={"name": "n", "kind": "url", "settings": {"base_url": "https://example.com"}},
        ).status_code
        == 201
    )


def test_loopback_refuses_cross_site_and_rebinding(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    body = {"name": "n", "kind": "url", "settings": {"base_url": "https://example.com"}}
    assert_error(
        c.post("/api/connections", json=body, headers={"Origin": "https://evil.example"}),
        403,
        "csrf",
    )
    assert_error(
        c.post("/api/connections", json=body, headers={"Sec-Fetch-Site": "cross-site"}), 403, "csrf"
    )
    # a DNS-rebinding page names its own host
    assert_error(c.get("/api/auth/me", headers={"Host": "evil.example:7860"}), 403, "csrf")
    ok = c.post("/api/connections", json=body, headers={"Origin": "http://testserver"})
    assert ok.status_code == 201


def _remote(tmp_path: Path, **values: object) -> TestClient:
    c = client(settings(tmp_path, host="0.0.0.0", token=TOKEN, **values))
    create_user(c.app.state.store, "ann", PASSWORD, "annotator")  # type: ignore[attr-defined]
    create_user(c.app.state.store, "boss", PASSWORD, "admin")  # type: ignore[attr-defined]
    return c


ROUTES = [
    ("get", "/api/auth/me"),
    ("get", "/api/auth/users"),
    ("post", "/api/auth/users"),
    ("patch", "/api/auth/users/ann"),
    ("get", "/api/connections"),
    ("post", "/api/connections"),
    ("get", "/api/connections/c_x"),
    ("patch", "/api/connections/c_x"),
    ("delete", "/api/connections/c_x"),
    ("post", "/api/uploads"),
    ("get", "/api/uploads/u_x"),
    ("put", "/api/uploads/u_x"),
    ("post", "/api/uploads/u_x/finish"),
    ("delete", "/api/uploads/u_x"),
    ("post", "/api/sources/import"),
    ("get", "/api/sources/files"),
    ("get", "/api/projects"),
    ("get", "/api/no-such-route"),
]


def test_not_loopback_every_api_route_needs_a_login(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    for method, path in ROUTES:
        assert_error(getattr(c, method)(path), 401, "unauthorized")
        assert_error(getattr(c, method)(path, headers={"Authorization": "Bearer wrong"}), 401)
    page = c.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert c.get("/login").status_code == 200
    assert_error(c.get("/loginx/../api/x"), 401)
    assert c.get("/loginx", follow_redirects=False).status_code == 303


def test_token_bearer_and_login(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert c.get("/api/auth/me", headers=bearer).json()["user"]["via"] == "token"
    # bearer requests carry no ambient credential: no CSRF token needed
    assert (
        c.post(
            "/api/auth/users",
            json={"name": "rev", "password": PASSWORD, "role": "reviewer"},
            headers=bearer,
        ).status_code
        == 201
    )
    assert_error(c.post("/api/auth/login", json={"token": "nope"}), 401, "unauthorized")
    login = c.post("/api/auth/login", json={"token": TOKEN})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert c.get("/api/auth/me").json()["user"]["name"] == "token"


def test_session_login_csrf_and_roles(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    err = assert_error(
        c.post("/api/auth/login", json={"username": "ann", "password": "wrong-one"}), 401
    )
    assert err["message"] == "wrong user name or password."
    assert_error(c.post("/api/auth/login", json={"username": "nobody", "password": "x"}), 401)
    login = c.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    csrf = login.json()["csrf_token"]
    assert csrf and c.get("/api/auth/me").json()["csrf_token"] == csrf
    body = {"name": "x.jsonl", "size": 2}
    assert_error(c.post("/api/uploads", json=body), 403, "csrf")
    assert_error(c.post("/api/uploads", json=body, headers={"X-CSRF-Token": "forged"}), 403, "csrf")
    assert c.post("/api/uploads", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    # an annotator is not an admin
    head = {"X-CSRF-Token": csrf}
    assert_error(c.get("/api/auth/users"), 403, "forbidden")
    assert_error(
        c.post(
            "/api/connections",
            json={"name": "n", "kind": "ftp", "settings": {"host": "h"}},
            headers=head,
        ),
        403,
        "forbidden",
    )
    assert c.post("/api/auth/logout", headers=head).status_code == 200
    assert_error(c.get("/api/auth/me"), 401)


def test_admin_manages_users(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    csrf = c.post("/api/auth/login", json={"username": "boss", "password": PASSWORD}).json()[
        "csrf_token"
    ]
    head = {"X-CSRF-Token": csrf}
    names = [u["name"] for u in c.get("/api/auth/users").json()["users"]]
    assert names == ["ann", "boss"]
    assert all(
        "password" not in str(u) and "scrypt" not in str(u)
        for u in c.get("/api/auth/users").json()["users"]
    )
    assert_error(
        c.post("/api/auth/users", json={"name": "ann", "password": PASSWORD}, headers=head),
        409,
        "conflict",
    )
    assert_error(
        c.post("/api/auth/users", json={"name": "x", "password": "short"}, headers=head),
        400,
        "weak_password",
    )
    assert_error(
        c.post(
            "/api/auth/users", json={"name": "x", "password": PASSWORD, "role": "god"}, headers=head
        ),
        400,
        "invalid",
    )
    assert_error(c.post("/api/auth/users", json={"name": "x"}, headers=head), 422, "invalid")
    changed = c.patch("/api/auth/users/ann", json={"role": "reviewer"}, headers=head)
    assert changed.json()["user"]["role"] == "reviewer"
    assert_error(c.patch("/api/auth/users/nobody", json={"role": "reviewer"}, headers=head), 404)
    # disabling a user ends their sessions
    other = TestClient(c.app)
    other.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert other.get("/api/auth/me").status_code == 200
    c.patch("/api/auth/users/ann", json={"disabled": True}, headers=head)
    assert_error(other.get("/api/auth/me"), 401)


def test_check_bind(tmp_path: Path) -> None:
    store = Store(tmp_path / "h")
    check_bind(settings(tmp_path, host="127.0.0.1"), store)
    check_bind(settings(tmp_path, host="0.0.0.0", token=TOKEN), store)
    with pytest.raises(SftforgeError, match="no login"):
        check_bind(settings(tmp_path, host="0.0.0.0"), store)
    create_user(store, "u", PASSWORD, "admin")
    check_bind(settings(tmp_path, host="0.0.0.0"), store)


def test_login_page_next_is_local_only(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    assert '"/datasets"' in c.get("/login?next=/datasets").text
    for evil in ("//evil.example", "https://evil.example", "/\\evil.example"):
        assert "evil" not in c.get("/login", params={"next": evil}).text
    assert "</script><script>" not in c.get("/login", params={"next": "/</script><script>x"}).text


def test_password_guessing_is_throttled(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    for _ in range(LOGIN_TRIES):
        assert_error(
            c.post("/api/auth/login", json={"username": "ann", "password": "guess-123"}), 401
        )
    err = assert_error(
        c.post("/api/auth/login", json={"username": "ann", "password": PASSWORD}),
        429,
        "too_many_requests",
    )
    assert "wait" in err["message"]
    # another name from the same client is not locked out
    assert (
        c.post("/api/auth/login", json={"username": "boss", "password": PASSWORD}).status_code
        == 200
    )


BAD_BODIES = [
    ("post", "/api/auth/login", {"username": 5}),
    ("post", "/api/auth/users", {"role": "admin"}),
    ("patch", "/api/auth/users/x", {"disabled": "maybe"}),
    ("post", "/api/connections", {"kind": "ftp"}),
    ("patch", "/api/connections/c_x", {"settings": "no"}),
    ("post", "/api/uploads", {"name": "a"}),
    ("post", "/api/sources/import", {"dataset_id": "d", "kind": "gopher"}),
]


def test_bad_bodies_and_unknown_ids_in_the_one_shape(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    for method, path, body in BAD_BODIES:
        assert_error(getattr(c, method)(path, json=body), 422, "invalid")
    for method, path in [
        ("get", "/api/connections/c_x"),
        ("delete", "/api/connections/c_x"),
        ("get", "/api/uploads/u_x"),
        ("post", "/api/uploads/u_x/finish"),
        ("delete", "/api/uploads/u_x"),
        ("patch", "/api/auth/users/nobody"),
    ]:
        kwargs = {"json": {}} if method == "patch" else {}
        assert_error(getattr(c, method)(path, **kwargs), 404, "not_found")
    assert_error(c.put("/api/uploads/u_x?offset=0", content=b"x"), 404, "not_found")
    assert_error(c.get("/api/sources/files"), 400, "server_paths_disabled")
    assert_error(
        c.post("/api/auth/logout", content=b"", headers={"Origin": "https://evil.example"}),
        403,
        "csrf",
    )


def test_csrf_token_for_pages() -> None:
    from starlette.requests import Request

    from sftforge.studio.auth import LOCAL_USER, User
    from sftforge.studio.csrf import csrf_token

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    assert csrf_token(request) == ""
    request.state.user = LOCAL_USER
    assert csrf_token(request) == ""
    request.state.user = User("ann", "annotator", "session", "tok-123")
    assert csrf_token(request) == "tok-123"


def test_review_needs_the_reviewer_role(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    create_user(c.app.state.store, "rev", PASSWORD, "reviewer")  # type: ignore[attr-defined]
    body = {"row_id": "r1", "base_revision": 0, "human_verified": True}
    for name, status in (("ann", 403), ("rev", 404), ("boss", 404)):  # 404: no such dataset
        csrf = c.post("/api/auth/login", json={"username": name, "password": PASSWORD}).json()
        head = {"X-CSRF-Token": csrf["csrf_token"]}
        answer = c.post("/api/datasets/d_none/review", json=body, headers=head)
        assert_error(answer, status, "forbidden" if status == 403 else "not_found")


def test_expired_sessions_are_refused_and_dropped(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    c.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    store = c.app.state.store  # type: ignore[attr-defined]
    store.conn().execute("UPDATE sessions SET expires_at='2000-01-01T00:00:00+00:00'")
    assert_error(c.get("/api/auth/me"), 401)
    TestClient(c.app).post("/api/auth/login", json={"username": "boss", "password": PASSWORD})
    assert [r["user"] for r in store.all("SELECT user FROM sessions")] == ["boss"]


def test_uploads_are_their_owners(tmp_path: Path) -> None:
    c = _remote(tmp_path)
    create_user(c.app.state.store, "ann2", PASSWORD, "annotator")  # type: ignore[attr-defined]
    csrf = c.post("/api/auth/login", json={"username": "ann", "password": PASSWORD}).json()
    made = c.post(
        "/api/uploads",
        json={"name": "a.jsonl", "size": 3},
        headers={"X-CSRF-Token": csrf["csrf_token"]},
    ).json()
    other = TestClient(c.app)
    head = {
        "X-CSRF-Token": other.post(
            "/api/auth/login", json={"username": "ann2", "password": PASSWORD}
        ).json()["csrf_token"]
    }
    assert_error(other.get(f"/api/uploads/{made['id']}"), 404, "not_found")
    assert_error(
        other.put(f"/api/uploads/{made['id']}?offset=0", content=b"{}\n", headers=head), 404
    )
    assert_error(other.delete(f"/api/uploads/{made['id']}", headers=head), 404)
    assert c.get(f"/api/uploads/{made['id']}").status_code == 200
    # the token is the operator: it sees every upload
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert TestClient(c.app).get(f"/api/uploads/{made['id']}", headers=bearer).status_code == 200
