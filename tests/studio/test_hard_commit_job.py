"""Committing the edits of a large head runs as a job (the request answers 202 with it at once);
a small head still commits in the request (201 with the version)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset, run_jobs

from sftforge.studio import edits


def _edit(client: TestClient, ds: str, row_id: str, text: str) -> None:
    got = client.get(f"/api/datasets/{ds}/rows/{row_id}").json()
    sample = got["row"]["sample"]
    sample["messages"][-1]["content"] = text
    r = client.put(f"/api/datasets/{ds}/rows/{row_id}",
                   json={"sample": sample, "base_revision": got["revision"]})  # fmt: skip
    assert r.status_code == 200, r.text


def test_a_large_head_is_committed_by_a_job(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "a.json", alpaca(30))["status"] == "done"
    head = client.get(f"/api/datasets/{ds}").json()["head_version"]
    monkeypatch.setattr(edits, "COMMIT_INLINE_ROWS", 10)  # 30 rows count as large here
    _edit(client, ds, "a.json:3", "改过的回答")
    r = client.post(f"/api/datasets/{ds}/commit", json={"message": "big one"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["status"]) == ("commit", "queued")
    # nothing is committed until the job runs: the head is the same, the edit still open
    assert client.get(f"/api/datasets/{ds}").json()["head_version"] == head
    assert len(client.get(f"/api/datasets/{ds}/edits").json()["edits"]) == 1
    _edit(client, ds, "a.json:5", "排队时改的")  # made while the job waits: committed with it
    run_jobs(client)
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["status"] == "done", done
    version = done["result"]
    assert version["parent_id"] == head and version["changed_rows"] == 2
    assert version["message"] == "big one" and version["rows"] == 30
    assert client.get(f"/api/datasets/{ds}").json()["head_version"] == version["id"]
    assert client.get(f"/api/datasets/{ds}/edits").json()["edits"] == []
    row = client.get(f"/api/datasets/{ds}/rows/a.json:3").json()
    assert row["edited"] is False and row["row"]["first_assistant"] == "改过的回答"
    late = client.get(f"/api/datasets/{ds}/rows/a.json:5").json()
    assert late["row"]["first_assistant"] == "排队时改的"
    # with no open edits the refusal is at once, not a failed job
    r = client.post(f"/api/datasets/{ds}/commit", json={})
    assert r.status_code == 409 and error_shape(r.json())["code"] == "conflict"


def test_a_small_head_commits_in_the_request(client: TestClient) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "a.json", alpaca(5))["status"] == "done"
    _edit(client, ds, "a.json:2", "new answer")
    r = client.post(f"/api/datasets/{ds}/commit", json={})
    assert r.status_code == 201, r.text
    assert r.json()["changed_rows"] == 1
    assert client.get(f"/api/datasets/{ds}").json()["head_version"] == r.json()["id"]
    assert client.get("/api/jobs", params={"status": "queued"}).json()["jobs"] == []
