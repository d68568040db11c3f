"""Review routes under studio-guard's roles (a studio bound to a non-loopback address):
queues and accept/reject need a reviewer, an edit an annotator, reading a login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

auth = pytest.importorskip("sftforge.studio.auth")

from fastapi.testclient import TestClient  # noqa: E402
from studio_helpers import error_shape, run_jobs, stage  # noqa: E402

from sftforge.studio.app import create_app  # noqa: E402
from sftforge.studio.settings import StudioSettings  # noqa: E402

TOKEN = "tok-review-Zq81-secret"
PASSWORD = "pw-Review-Horse-9"
API = "/api/reviews/queues"


def _login(app: Any, name: str) -> tuple[TestClient, dict[str, str]]:
    c = TestClient(app, raise_server_exceptions=False)
    answer = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return c, {"X-CSRF-Token": answer.json()["csrf_token"]}


def test_review_roles(tmp_path: Path) -> None:
    settings = StudioSettings(home=tmp_path / "home", host="0.0.0.0", token=TOKEN,
                              open_browser=False)  # fmt: skip
    app = create_app(settings, run_jobs=False)
    store = app.state.store
    auth.create_user(store, "ann", PASSWORD, "annotator")
    auth.create_user(store, "rev", PASSWORD, "reviewer")
    admin = TestClient(app, raise_server_exceptions=False,
                       headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    ds = store.create_dataset(store.create_project("p", "token")["id"], "d")["id"]
    records = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"问 {i}"},
                                            {"role": "assistant", "content": f"答 {i}"}]}
               for i in range(4)]  # fmt: skip
    staged = stage(admin, "qa.jsonl", records)
    assert admin.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).status_code == 202
    run_jobs(admin)

    anon = TestClient(app, raise_server_exceptions=False)
    r = anon.get(API)
    assert r.status_code == 401 and error_shape(r.json())["code"] == "unauthorized"

    ann, ann_h = _login(app, "ann")
    rev, rev_h = _login(app, "rev")
    body = {"dataset_id": ds, "reviewers": ["ann", "rev"], "per_item": 2}
    r = ann.post(API, json=body, headers=ann_h)
    assert r.status_code == 403 and error_shape(r.json())["code"] == "forbidden"
    r = rev.post(API, json={**body, "reviewers": ["ann", "bob"]}, headers=rev_h)
    assert r.status_code == 422 and error_shape(r.json())["field"] == "reviewers"
    assert "bob" in r.json()["error"]["message"]
    r = rev.post(API, json=body, headers=rev_h)
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    assert r.json()["created_by"] == "rev"

    shown = ann.get(f"{API}/{qid}/next").json()
    decision = {"row_id": shown["item"]["row_id"], "base_revision": shown["record"]["revision"]}
    r = ann.post(f"{API}/{qid}/decisions", json={**decision, "action": "accept"}, headers=ann_h)
    assert r.status_code == 403 and error_shape(r.json())["code"] == "forbidden"
    sample = shown["record"]["row"]["sample"]
    sample["messages"][1]["content"] = "答 0 (fixed)"
    r = ann.post(f"{API}/{qid}/decisions", json={**decision, "action": "edit", "sample": sample},
                 headers=ann_h)  # fmt: skip
    assert r.status_code == 200, r.text
    shown = rev.get(f"{API}/{qid}/next").json()
    decision = {"row_id": shown["item"]["row_id"], "base_revision": shown["record"]["revision"],
                "action": "accept"}  # fmt: skip
    assert rev.post(f"{API}/{qid}/decisions", json=decision, headers=rev_h).status_code == 200
    # a session's unsafe request without its CSRF token is refused before reaching the route
    r = rev.post(f"{API}/{qid}/undo")
    assert r.status_code == 403 and error_shape(r.json())["code"] == "csrf"
    assert rev.post(f"{API}/{qid}/undo", headers=rev_h).json()["undone"] == "accept"
    people = {p["reviewer"]: p for p in rev.get(f"{API}/{qid}/progress").json()["by_person"]}
    assert (people["ann"]["edited"], people["rev"]["done"]) == (1, 0)
