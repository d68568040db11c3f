"""A cold diff of large versions and a review queue over a large version run as jobs (the request
answers 202 with the job; the page polls it); their results are the ones the request computed
before, and they outlive a restart."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset, run_jobs

from sftforge.studio import diff, reviews
from sftforge.studio.app import create_app


def _edit(client: TestClient, ds: str, row_id: str, text: str) -> None:
    got = client.get(f"/api/datasets/{ds}/rows/{row_id}").json()
    sample = got["row"]["sample"]
    sample["messages"][-1]["content"] = text
    r = client.put(f"/api/datasets/{ds}/rows/{row_id}",
                   json={"sample": sample, "base_revision": got["revision"]})  # fmt: skip
    assert r.status_code == 200, r.text


def _versions(client: TestClient, ds: str) -> tuple[str, str]:
    """Two versions: 30 rows, then 2 changed, 1 deleted and 5 added."""
    assert import_rows(client, ds, "a.json", alpaca(30))["status"] == "done"
    first = client.get(f"/api/datasets/{ds}").json()["head_version"]
    _edit(client, ds, "a.json:3", "改过的回答")
    _edit(client, ds, "a.json:17", "another")
    got = client.get(f"/api/datasets/{ds}/rows/a.json:9").json()
    r = client.delete(
        f"/api/datasets/{ds}/rows/a.json:9", params={"base_revision": got["revision"]}
    )
    assert r.status_code == 200, r.text
    assert client.post(f"/api/datasets/{ds}/commit", json={}).status_code == 201
    assert import_rows(client, ds, "b.json", alpaca(5, start=30))["status"] == "done"
    return first, client.get(f"/api/datasets/{ds}").json()["head_version"]


def _forget_diffs(home: Path) -> None:
    diff._RESULTS.clear()
    shutil.rmtree(home / "versions" / "diffs", ignore_errors=True)


def _pages(client: TestClient, ds: str, a: str, b: str) -> list[dict[str, Any]]:
    out = []
    for params in ({}, {"limit": 2, "offset": 1}, {"change": "added"}, {"change": "removed"}):
        r = client.get(f"/api/datasets/{ds}/diff", params={"a": a, "b": b, **params})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def test_a_cold_diff_of_large_versions_is_a_job_with_the_same_answer(
    client: TestClient, studio_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = new_dataset(client)
    a, b = _versions(client, ds)
    inline = _pages(client, ds, a, b)  # small: computed in the request, as before
    assert (inline[0]["changed"], inline[0]["added"], inline[0]["removed"]) == (2, 5, 1)

    _forget_diffs(studio_home)
    monkeypatch.setattr(diff, "DIFF_INLINE_ROWS", 10)  # 30 + 34 rows count as large here
    r = client.get(f"/api/datasets/{ds}/diff", params={"a": a, "b": b})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["pending"] is True and (body["a"], body["b"]) == (a, b)
    job = body["job"]
    assert (job["kind"], job["status"]) == ("diff", "queued")
    # polling again before the job ran reuses the job; nothing is computed in the request
    again = client.get(f"/api/datasets/{ds}/diff", params={"a": a, "b": b, "change": "added"})
    assert again.status_code == 202 and again.json()["job"]["id"] == job["id"]
    assert not (studio_home / "versions" / "diffs").exists()
    run_jobs(client)
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["status"] == "done" and done["progress"] == 1, done
    assert done["result"] == {"a": a, "b": b, "changed": 2, "added": 5, "removed": 1}
    assert _pages(client, ds, a, b) == inline

    # a new process on the same home answers from the saved diff, without a job
    diff._RESULTS.clear()
    app = create_app(client.app.state.settings, run_jobs=False)  # type: ignore[attr-defined]
    with TestClient(app) as fresh:
        assert _pages(fresh, ds, a, b) == inline
        assert fresh.get("/api/jobs", params={"status": "queued"}).json()["jobs"] == []


def test_a_diff_job_left_running_by_a_stopped_process_runs_again(
    client: TestClient, studio_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = new_dataset(client)
    a, b = _versions(client, ds)
    inline = _pages(client, ds, a, b)
    _forget_diffs(studio_home)
    monkeypatch.setattr(diff, "DIFF_INLINE_ROWS", 10)
    job = client.get(f"/api/datasets/{ds}/diff", params={"a": a, "b": b}).json()["job"]
    store = client.app.state.store  # type: ignore[attr-defined]
    store.conn().execute("UPDATE jobs SET status='running' WHERE id=?", (job["id"],))
    app = create_app(client.app.state.settings, run_jobs=False)  # type: ignore[attr-defined]
    with TestClient(app) as fresh:
        assert app.state.jobs.requeue_interrupted() == 1
        app.state.jobs.run_pending()
        assert fresh.get(f"/api/jobs/{job['id']}").json()["status"] == "done"
        assert _pages(fresh, ds, a, b) == inline


def _queue_body(ds: str, **extra: Any) -> dict[str, Any]:
    return {"dataset_id": ds, "name": "一半", "preset": "all", "percent": 50, "seed": 3,
            "reviewers": ["ann", "bo", "cy"], "per_item": 2, **extra}  # fmt: skip


def _items(client: TestClient, queue_id: str) -> list[dict[str, Any]]:
    got = client.get(f"/api/reviews/queues/{queue_id}/items", params={"limit": 500}).json()
    return [{k: i[k] for k in ("row_id", "slot", "position", "reviewer", "status")}
            for i in got["items"]]  # fmt: skip


def test_a_queue_over_a_large_version_is_built_by_a_job(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "a.json", alpaca(30))["status"] == "done"
    r = client.post("/api/reviews/queues", json=_queue_body(ds))
    assert r.status_code == 201, r.text
    inline = r.json()

    monkeypatch.setattr(reviews, "QUEUE_INLINE_ROWS", 10)  # 30 rows count as large here
    r = client.post("/api/reviews/queues", json=_queue_body(ds))
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["status"]) == ("review_queue", "queued")
    assert len(client.get("/api/reviews/queues", params={"dataset_id": ds}).json()["queues"]) == 1
    run_jobs(client)
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["status"] == "done", done
    built = done["result"]
    assert built["id"] != inline["id"] and built["id"] == job["params"]["queue_id"]
    assert built["items"] == inline["items"] == 15
    assert _items(client, built["id"]) == _items(client, inline["id"])
    assert built["progress"] == inline["progress"]

    # run again (as after a restart mid-job): the same queue, nothing built twice
    store = client.app.state.store  # type: ignore[attr-defined]
    store.conn().execute("UPDATE jobs SET status='queued' WHERE id=?", (job["id"],))
    run_jobs(client)
    assert client.get(f"/api/jobs/{job['id']}").json()["result"]["id"] == built["id"]
    queues = client.get("/api/reviews/queues", params={"dataset_id": ds}).json()["queues"]
    assert len(queues) == 2 and len(_items(client, built["id"])) == 30


def test_a_queue_job_refuses_bad_options_at_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "a.json", alpaca(30))["status"] == "done"
    monkeypatch.setattr(reviews, "QUEUE_INLINE_ROWS", 10)
    for extra, field in (({"preset": "nope"}, "preset"), ({"percent": 0}, "percent"),
                         ({"filters": ["nope:eq:1"]}, "filter"),
                         ({"reviewers": ["ann"]}, "reviewers")):  # fmt: skip
        r = client.post("/api/reviews/queues", json=_queue_body(ds, **extra))
        assert r.status_code == 422 and error_shape(r.json())["field"] == field, r.text
    assert not [j for j in client.get("/api/jobs").json()["jobs"] if j["kind"] == "review_queue"]
    # a filter that matches nothing is known only once the rows are read: the job fails with it
    r = client.post("/api/reviews/queues", json=_queue_body(ds, q="没有这样的文字"))
    assert r.status_code == 202
    run_jobs(client)
    failed = client.get(f"/api/jobs/{r.json()['id']}").json()
    assert failed["status"] == "failed" and "matches no rows" in failed["message"]
