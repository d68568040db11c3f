"""``/api/jobs`` in a studio with users: a non-admin sees other people's jobs without their params,
result or message, and their own with server paths cut to the file's name; admins see all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

auth = pytest.importorskip("sftforge.studio.auth")

from fastapi.testclient import TestClient  # noqa: E402
from studio_helpers import run_jobs, stage  # noqa: E402

from sftforge.studio.app import create_app  # noqa: E402
from sftforge.studio.settings import StudioSettings  # noqa: E402

PASSWORD = "pw-Jobs-Otter-9"


def _login(app: Any, name: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def test_jobs_show_params_to_their_owner_and_admins_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = create_app(StudioSettings(home=home, host="0.0.0.0", token="t-Jobs-1",
                                    open_browser=False), run_jobs=False)  # fmt: skip
    for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("adm", "admin")):
        auth.create_user(app.state.store, name, PASSWORD, role)
    adm, adm_h = _login(app, "adm")
    ann, ann_h = _login(app, "ann")
    rev, _ = _login(app, "rev")
    project = adm.post("/api/projects", json={"name": "p"}, headers=adm_h).json()
    ds = adm.post(f"/api/projects/{project['id']}/datasets", json={"name": "d"},
                  headers=adm_h).json()["id"]  # fmt: skip
    records = [{"messages": [{"role": "user", "content": "问"},
                             {"role": "assistant", "content": "答"}]}]  # fmt: skip
    staged = stage(ann, "机密-plan.jsonl", records)
    started = ann.post(f"/api/datasets/{ds}/imports", json={"staged": staged}, headers=ann_h)
    assert started.status_code == 202, started.text
    run_jobs(ann)
    export = ann.post(f"/api/datasets/{ds}/exports", json={"format": "sharegpt"}, headers=ann_h)
    assert export.status_code == 202, export.text
    run_jobs(ann)
    home_text = str(home.resolve())

    # the admin: everything, server paths included
    listed = adm.get("/api/jobs").json()["jobs"]
    assert {j["kind"] for j in listed} == {"import", "export"}
    by_kind = {j["kind"]: j for j in listed}
    assert by_kind["import"]["params"]["path"].startswith(home_text)
    assert by_kind["export"]["result"]["rows"] == 1

    # another user: who ran what and how far, nothing of the params, result or message
    for answer in (rev.get("/api/jobs"), rev.get(f"/api/jobs/{by_kind['import']['id']}"),
                   rev.get(f"/api/exports/{by_kind['export']['id']}")):  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert "机密-plan" not in answer.text and home_text not in answer.text
    for job in rev.get("/api/jobs").json()["jobs"]:
        assert job["hidden"] is True and job["params"] is None and job["result"] is None
        assert job["created_by"] == "ann" and job["status"] == "done"

    # the owner: their params and result, server paths cut to the file's name
    own = {j["kind"]: j for j in ann.get("/api/jobs").json()["jobs"]}
    assert home_text not in ann.get("/api/jobs").text
    assert own["import"]["params"]["path"] == "机密-plan.jsonl"
    assert own["import"]["params"]["dataset_id"] == ds
    assert "hidden" not in own["import"]
    assert own["export"]["result"] == by_kind["export"]["result"]
    one = ann.get(f"/api/jobs/{own['import']['id']}").json()
    assert one["params"] == own["import"]["params"]
