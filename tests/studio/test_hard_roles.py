"""Roles on the core routes of a studio with users (bound to a non-loopback address): for each
role, a call it may make and one it may not, per route group; every refusal is 403 `forbidden`
in the one error shape, and a refused call changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

auth = pytest.importorskip("sftforge.studio.auth")

from fastapi.testclient import TestClient  # noqa: E402
from studio_helpers import error_shape, run_jobs, stage  # noqa: E402

from sftforge.studio.app import create_app  # noqa: E402
from sftforge.studio.settings import StudioSettings  # noqa: E402

TOKEN = "tok-roles-Hq72-secret"
PASSWORD = "pw-Roles-Badger-4"


class As:
    """A logged-in user's client: its session cookie and CSRF header on every call."""

    def __init__(self, app: Any, name: str) -> None:
        self.c = TestClient(app, raise_server_exceptions=False)
        answer = self.c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        self.h = {"X-CSRF-Token": answer.json()["csrf_token"]}

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.c, method)
        return lambda url, **kw: call(url, headers=self.h, **kw)


def forbidden(r: httpx.Response) -> None:
    assert r.status_code == 403, (r.status_code, r.text)
    assert error_shape(r.json())["code"] == "forbidden"


def row(who: As, ds: str, row_id: str) -> dict[str, Any]:
    got: dict[str, Any] = who.get(f"/api/datasets/{ds}/rows/{row_id}").json()
    return got


@pytest.fixture
def studio(tmp_path: Path) -> tuple[Any, str, str, str]:
    settings = StudioSettings(home=tmp_path / "home", host="0.0.0.0", token=TOKEN,
                              open_browser=False)  # fmt: skip
    app = create_app(settings, run_jobs=False)
    store = app.state.store
    for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("adm", "admin")):
        auth.create_user(store, name, PASSWORD, role)
    records = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"问 {i}"},
                                            {"role": "assistant", "content": f"答 {i}"}]}
               for i in range(4)]  # fmt: skip
    adm = As(app, "adm")
    project = adm.post("/api/projects", json={"name": "p"})
    assert project.status_code == 201, project.text
    ds = adm.post(f"/api/projects/{project.json()['id']}/datasets", json={"name": "d"})
    assert ds.status_code == 201, ds.text
    staged = stage(adm.c, "qa.jsonl", records)
    return app, project.json()["id"], ds.json()["id"], staged


def test_annotator_edits_and_undoes_own_edits_only(studio: tuple[Any, str, str, str]) -> None:
    app, project_id, ds, staged = studio
    ann, rev = As(app, "ann"), As(app, "rev")
    # imports: any role
    assert ann.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).status_code == 202
    run_jobs(ann.c)
    # projects and datasets: admins only
    forbidden(ann.post("/api/projects", json={"name": "mine"}))
    forbidden(ann.post(f"/api/projects/{project_id}/datasets", json={"name": "mine"}))
    assert ann.get("/api/projects").json()["projects"][0]["id"] == project_id  # reading: allowed
    # edit a row: allowed; review it: refused
    shown = row(ann, ds, "q0")
    sample = shown["row"]["sample"]
    sample["messages"][1]["content"] = "答 0 (fixed)"
    r = ann.put(f"/api/datasets/{ds}/rows/q0", json={"sample": sample, "base_revision": 0})
    assert r.status_code == 200, r.text
    mine = r.json()["id"]
    forbidden(ann.post(f"/api/datasets/{ds}/review",
                       json={"row_id": "q1", "base_revision": 0, "status": "accepted"}))  # fmt: skip
    # someone else's edit may not be undone by an annotator; their own may
    theirs = rev.put(f"/api/datasets/{ds}/rows/q1",
                     json={"sample": row(rev, ds, "q1")["row"]["sample"], "base_revision": 0})  # fmt: skip
    assert theirs.status_code == 200, theirs.text
    forbidden(ann.post(f"/api/datasets/{ds}/edits/{theirs.json()['id']}/undo"))
    assert row(ann, ds, "q1")["edited"] is True
    assert ann.post(f"/api/datasets/{ds}/edits/{mine}/undo").status_code == 200
    assert row(ann, ds, "q0")["edited"] is False
    # deleting a row, commit, tags, rollback: refused, and nothing changed
    forbidden(ann.delete(f"/api/datasets/{ds}/rows/q2", params={"base_revision": 0}))
    forbidden(ann.post(f"/api/datasets/{ds}/commit", json={"message": "x"}))
    forbidden(ann.put(f"/api/datasets/{ds}/tags/v1", json={"version": "head"}))
    forbidden(ann.post(f"/api/datasets/{ds}/rollback", json={"version": "head"}))
    assert row(ann, ds, "q2")["edited"] is False
    assert len(ann.get(f"/api/datasets/{ds}/versions").json()["versions"]) == 1
    # exports: any role
    assert ann.post(f"/api/datasets/{ds}/exports", json={"format": "sharegpt"}).status_code == 202


def test_reviewer_reviews_and_commits_but_does_not_manage(
    studio: tuple[Any, str, str, str],
) -> None:
    app, _, ds, staged = studio
    rev, ann = As(app, "rev"), As(app, "ann")
    assert rev.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).status_code == 202
    run_jobs(rev.c)
    r = rev.post(f"/api/datasets/{ds}/review",
                 json={"row_id": "q1", "base_revision": 0, "status": "rejected",
                       "reason": "wrong"})  # fmt: skip
    assert r.status_code == 200, r.text
    # an annotator's edit is not the reviewer's to undo
    edited = ann.put(f"/api/datasets/{ds}/rows/q0",
                     json={"sample": row(ann, ds, "q0")["row"]["sample"], "base_revision": 0})  # fmt: skip
    forbidden(rev.post(f"/api/datasets/{ds}/edits/{edited.json()['id']}/undo"))
    # a queue (reviewers build them)
    assert rev.post("/api/reviews/queues", json={"dataset_id": ds}).status_code == 201
    committed = rev.post(f"/api/datasets/{ds}/commit", json={"message": "reviewed"})
    assert committed.status_code in (201, 202), committed.text
    run_jobs(rev.c)
    versions = rev.get(f"/api/datasets/{ds}/versions").json()["versions"]
    assert len(versions) == 2
    forbidden(rev.post("/api/projects", json={"name": "mine"}))
    forbidden(rev.put(f"/api/datasets/{ds}/tags/v1", json={"version": "head"}))
    forbidden(rev.delete(f"/api/datasets/{ds}/tags/v1"))
    forbidden(rev.post(f"/api/datasets/{ds}/rollback", json={"version": versions[1]["id"]}))
    forbidden(rev.delete(f"/api/datasets/{ds}/rows/q2", params={"base_revision": 0}))
    forbidden(rev.post("/api/connections", json={"name": "c", "kind": "url",
                                                "settings": {"base_url": "https://x.org"}}))  # fmt: skip
    forbidden(rev.get("/api/auth/users"))
    assert rev.get(f"/api/datasets/{ds}/tags").json() == {"tags": []}


def test_admin_manages_everything(studio: tuple[Any, str, str, str]) -> None:
    app, _, ds, staged = studio
    adm, ann = As(app, "adm"), As(app, "ann")
    assert adm.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).status_code == 202
    run_jobs(adm.c)
    first = adm.get(f"/api/datasets/{ds}/versions").json()["versions"][0]["id"]
    edited = ann.put(f"/api/datasets/{ds}/rows/q0",
                     json={"sample": row(ann, ds, "q0")["row"]["sample"], "base_revision": 0})  # fmt: skip
    assert adm.post(f"/api/datasets/{ds}/edits/{edited.json()['id']}/undo").status_code == 200
    r = adm.delete(f"/api/datasets/{ds}/rows/q2", params={"base_revision": 0})
    assert r.status_code == 200, r.text
    assert adm.post(f"/api/datasets/{ds}/commit", json={}).status_code in (201, 202)
    run_jobs(adm.c)
    assert adm.put(f"/api/datasets/{ds}/tags/v1", json={"version": first}).status_code == 200
    assert adm.post(f"/api/datasets/{ds}/rollback", json={"version": "v1"}).status_code == 201
    assert adm.delete(f"/api/datasets/{ds}/tags/v1").status_code == 204
    assert adm.get(f"/api/datasets/{ds}/rows/q2").status_code == 200  # back after the rollback
    assert adm.get("/api/auth/users").status_code == 200
    # without a login, nothing at all
    anon = TestClient(app, raise_server_exceptions=False)
    r = anon.post("/api/projects", json={"name": "x"})
    assert r.status_code == 401 and error_shape(r.json())["code"] == "unauthorized"
