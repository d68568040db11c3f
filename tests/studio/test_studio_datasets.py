"""Imports (read = imported + rejected, rejects kept, one-line errors), versions, tags,
rollback, diff, exports and their downloads, jobs surviving a restart."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset, run_jobs, stage

from sftforge.studio.app import create_app
from sftforge.studio.jobs import JobQueue
from sftforge.studio.settings import StudioSettings
from sftforge.studio.store import Store


def head(client: TestClient, ds: str) -> str:
    return str(client.get(f"/api/datasets/{ds}").json()["head_version"])


def test_import_keeps_every_record_rejects_viewable_and_downloadable(client: TestClient) -> None:
    ds = new_dataset(client)
    records: list[Any] = alpaca(5)
    records.insert(2, {"instruction": "", "input": "", "output": "no question"})
    records.append({"instruction": "问", "input": "", "output": ""})
    imp = import_rows(client, ds, "mixed.jsonl", records)
    assert imp["status"] == "done"
    assert (imp["read"], imp["imported"], imp["rejected"]) == (7, 5, 2)
    assert imp["has_rejects"] is True
    page = client.get(f"/api/imports/{imp['id']}/rejects").json()
    assert page["total"] == 2
    assert [(r["file"], r["line"]) for r in page["rejects"]] == [
        ("mixed.jsonl", 3),
        ("mixed.jsonl", 7),
    ]
    assert all(r["reason"] and r["raw"] for r in page["rejects"])
    # the server's staging path never shows; the user's file name does
    assert "staging" not in orjson.dumps(page).decode()
    dl = client.get(f"/api/imports/{imp['id']}/rejects.jsonl")
    assert dl.status_code == 200
    assert [orjson.loads(x)["line"] for x in dl.content.splitlines()] == [3, 7]
    listed = client.get(f"/api/datasets/{ds}/imports").json()["imports"]
    assert [i["id"] for i in listed] == [imp["id"]]


def test_import_of_unreadable_input_fails_with_one_line_and_no_version(client: TestClient) -> None:
    ds = new_dataset(client)
    imp = import_rows(client, ds, "bad.jsonl", '{"instruction": "x", "output": "y"}\n{"broken\n')
    # one good record and one broken: imported with the broken one rejected
    assert (imp["status"], imp["read"], imp["imported"], imp["rejected"]) == ("done", 2, 1, 1)
    ds2 = new_dataset(client, "two")
    none = import_rows(client, ds2, "nothing.jsonl", [{"a": 1}, {"a": 2}])
    assert none["status"] == "failed" and none["version_id"] is None
    assert "\n" not in none["error"] and "nothing.jsonl" in none["error"]
    assert "Fix:" in none["error"] and "staging" not in none["error"]
    assert client.get(f"/api/datasets/{ds2}").json()["head_version"] is None
    job = client.get("/api/jobs", params={"status": "failed"}).json()["jobs"]
    assert len(job) == 1 and job[0]["message"] == none["error"]


def test_gbk_csv_with_chinese_headers_imports_with_a_column_mapping(client: TestClient) -> None:
    ds = new_dataset(client)
    csv = "问题,答案\n什么是机器学习?,一种让计算机从数据中学习的方法\n你好,你好!\n".encode("gbk")
    imp = import_rows(client, ds, "中文.csv", csv, columns="问题=prompt,答案=response")
    assert imp["status"] == "done", imp
    assert (imp["read"], imp["imported"]) == (2, 2)
    page = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"q": "机器学习"}).json()
    assert (
        page["total"] == 1
        and page["rows"][0]["first_assistant"] == "一种让计算机从数据中学习的方法"
    )
    assert page["rows"][0]["src"] == "中文.csv"


def test_second_import_appends_to_the_head(client: TestClient) -> None:
    ds = new_dataset(client)
    one = import_rows(client, ds, "one.jsonl", alpaca(3))
    two = import_rows(client, ds, "two.jsonl", alpaca(2, start=3))
    assert two["status"] == "done"
    version = client.get(f"/api/datasets/{ds}/versions/head").json()
    assert version["rows"] == 5 and version["parent_id"] == one["version_id"]
    versions = client.get(f"/api/datasets/{ds}/versions").json()["versions"]
    assert {v["id"] for v in versions} == {one["version_id"], two["version_id"]}


def test_records_sharing_a_line_get_distinct_row_ids(client: TestClient) -> None:
    # a JSON array on one line: every record is on line 1; ids must still be unique
    ds = new_dataset(client)
    done = import_rows(client, ds, "one_line.json", orjson.dumps(alpaca(4)))
    assert done["status"] == "done" and done["imported"] == 4
    rows = client.get(f"/api/datasets/{ds}/versions/head/rows").json()["rows"]
    ids = [r["row_id"] for r in rows]
    assert len(ids) == 4 and len(set(ids)) == 4, ids


def test_staged_path_cannot_escape(client: TestClient, tmp_path: Path) -> None:
    ds = new_dataset(client)
    (tmp_path / "secret.jsonl").write_text("{}\n")
    for bad in ("../../secret.jsonl", "/etc/passwd", "../studio.sqlite3"):
        r = client.post(f"/api/datasets/{ds}/imports", json={"staged": bad})
        assert r.status_code in (400, 404), (bad, r.status_code)
        assert error_shape(r.json())["field"] == "staged"


def test_tags_rollback_and_diff(client: TestClient) -> None:
    ds = new_dataset(client)
    import_rows(client, ds, "a.jsonl", alpaca(10))
    v1 = head(client, ds)
    assert client.put(f"/api/datasets/{ds}/tags/原始", json={"version": "head"}).status_code == 200
    row = client.get(f"/api/datasets/{ds}/rows/a.jsonl:1").json()
    sample = row["row"]["sample"]
    sample["messages"][1]["content"] = "新的回答"
    client.put(f"/api/datasets/{ds}/rows/a.jsonl:1", json={"sample": sample, "base_revision": 0})
    client.delete(f"/api/datasets/{ds}/rows/a.jsonl:2", params={"base_revision": 0})
    client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:3", "base_revision": 0, "status": "flagged", "reason": "check"},
    )
    client.post(f"/api/datasets/{ds}/commit", json={})
    import_rows(client, ds, "b.jsonl", alpaca(1, start=50))
    v3 = head(client, ds)
    d = client.get(f"/api/datasets/{ds}/diff", params={"a": "原始", "b": "head"}).json()
    assert (d["a"], d["b"]) == (v1, v3)
    assert (d["changed"], d["added"], d["removed"]) == (2, 1, 1)
    kinds = {e["row_id"]: e["change"] for e in d["entries"]}
    assert kinds == {
        "a.jsonl:1": "changed",
        "a.jsonl:3": "changed",
        "b.jsonl:1": "added",
        "a.jsonl:2": "removed",
    }
    only = client.get(f"/api/datasets/{ds}/diff", params={"a": v1, "change": "added"}).json()
    assert [e["row_id"] for e in only["entries"]] == ["b.jsonl:1"] and only["total"] == 1
    paged = client.get(f"/api/datasets/{ds}/diff", params={"a": v1, "offset": 1, "limit": 2}).json()
    assert [e["change"] for e in paged["entries"]] == ["changed", "added"]
    fd = client.get(f"/api/datasets/{ds}/diff/row", params={"a": v1, "row_id": "a.jsonl:1"}).json()
    assert fd["change"] == "changed"
    # the content change, then who made it (the commit's lineage of the edited row)
    assert fd["fields"][0] == {
        "path": "messages[1].content",
        "before": "Answer 0: 数据",
        "after": "新的回答",
    }
    assert [f["path"] for f in fd["fields"][1:]] == ["lineage.edited_by", "lineage.edited_at"]
    assert fd["fields"][1]["after"] == "local"
    fs = client.get(f"/api/datasets/{ds}/diff/row", params={"a": v1, "row_id": "a.jsonl:3"}).json()
    assert [f["path"] for f in fs["fields"]] == [
        "status",
        "reason",
        "lineage.edited_by",
        "lineage.edited_at",
    ]
    # roll back to the tag: a new head with v1's rows, history kept
    rb = client.post(f"/api/datasets/{ds}/rollback", json={"version": "原始"})
    assert rb.status_code == 201, rb.text
    assert rb.json()["parent_id"] == v3 and rb.json()["rows"] == 10
    back = client.get(f"/api/datasets/{ds}/diff", params={"a": v1}).json()
    assert (back["changed"], back["added"], back["removed"]) == (0, 0, 0)
    assert client.post(f"/api/datasets/{ds}/rollback", json={"version": "head"}).status_code == 409
    assert client.delete(f"/api/datasets/{ds}/tags/原始").status_code == 204
    assert client.delete(f"/api/datasets/{ds}/tags/原始").status_code == 404
    bad = client.put(f"/api/datasets/{ds}/tags/a b", json={"version": "head"})
    assert bad.status_code == 422 and error_shape(bad.json())["field"] == "name"


def test_export_to_a_format_and_to_llamafactory_downloads_the_reviewed_rows(
    client: TestClient,
) -> None:
    ds = new_dataset(client)
    import_rows(client, ds, "a.jsonl", alpaca(4))
    client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:2", "base_revision": 0, "status": "rejected"},
    )
    client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:3", "base_revision": 0, "human_verified": True},
    )
    client.post(f"/api/datasets/{ds}/commit", json={})
    job = client.post(f"/api/datasets/{ds}/exports", json={"format": "sharegpt"})
    assert job.status_code == 202, job.text
    run_jobs(client)
    done = client.get(f"/api/exports/{job.json()['id']}").json()
    assert done["status"] == "done", done
    assert done["result"]["rows"] == 3
    dl = client.get(f"/api/exports/{job.json()['id']}/download")
    assert dl.status_code == 200
    lines = [orjson.loads(x) for x in dl.content.splitlines()]
    assert len(lines) == 3
    # the rejected row (question 1) is left out
    firsts = [line["conversations"][0]["value"] for line in lines]
    assert firsts == [f"第{i}个问题: 什么是数据集 {i}?" for i in (0, 2, 3)]
    # llamafactory: a zip with its data file and dataset_info.json
    lf = client.post(f"/api/datasets/{ds}/exports", json={"framework": "llamafactory"})
    run_jobs(client)
    zdl = client.get(f"/api/exports/{lf.json()['id']}/download")
    assert zdl.status_code == 200, zdl.text
    names = zipfile.ZipFile(io.BytesIO(zdl.content)).namelist()
    assert "llamafactory/dataset_info.json" in names
    bad = client.post(f"/api/datasets/{ds}/exports", json={"format": "no-such-format"})
    assert bad.status_code == 400 and error_shape(bad.json())["code"] == "bad_input"
    both = client.post(f"/api/datasets/{ds}/exports", json={"format": "alpaca", "framework": "trl"})
    assert both.status_code == 422
    missing = client.get("/api/exports/j_nope/download")
    assert missing.status_code == 404 and error_shape(missing.json())["code"] == "not_found"


def test_jobs_left_running_are_requeued_at_start(tmp_path: Path) -> None:
    settings = StudioSettings(home=tmp_path / "h", open_browser=False)
    app = create_app(settings, run_jobs=False)
    with TestClient(app) as client:
        ds = new_dataset(client)
        staged = stage(client, "a.jsonl", alpaca(3))
        started = client.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).json()
    # the process "dies" while the job runs
    store = Store(settings.home)
    store.conn().execute("UPDATE jobs SET status='running' WHERE id=?", (started["job_id"],))
    store.close()
    queue = JobQueue(Store(settings.home), settings)
    assert queue.requeue_interrupted() == 1
    assert queue.run_pending() == 1
    assert queue.get(started["job_id"])["status"] == "done"
    assert queue.store.one("SELECT status FROM imports WHERE id=?", (started["id"],)) == {
        "status": "done"
    }


def test_job_worker_thread_runs_jobs(tmp_path: Path) -> None:
    import time

    app = create_app(StudioSettings(home=tmp_path / "h", open_browser=False))
    with TestClient(app) as client:
        ds = new_dataset(client)
        staged = stage(client, "a.jsonl", alpaca(3))
        job_id = client.post(f"/api/datasets/{ds}/imports", json={"staged": staged}).json()[
            "job_id"
        ]
        for _ in range(200):
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert job["status"] == "done" and job["progress"] == 1.0
        assert job["result"]["imported"] == 3


def test_errors_of_every_kind_use_the_one_shape(client: TestClient) -> None:
    app = client.app

    @app.get("/api/_boom")  # type: ignore[attr-defined,misc]
    def boom() -> None:
        raise RuntimeError("secret detail")

    r = client.get("/api/_boom")
    err = error_shape(r.json())
    assert r.status_code == 500 and err["code"] == "internal" and "secret" not in err["message"]
    assert error_shape(client.get("/api/projects/p_none").json())["code"] == "not_found"
    assert error_shape(client.get("/api/jobs/j_none").json())["code"] == "not_found"
    assert error_shape(client.get("/api/imports/i_none").json())["code"] == "not_found"
    assert error_shape(client.get("/api/datasets/d_none").json())["code"] == "not_found"
    assert client.get("/api/jobs", params={"status": "bogus"}).status_code == 422
    assert client.put("/api/jobs").status_code == 405


def test_undetected_columns_fail_with_the_proposed_mapping_then_import_with_it(
    client: TestClient,
) -> None:
    ds = new_dataset(client)
    records = [{"问题": f"问{i}", "答案": f"答{i}"} for i in range(3)]
    failed = import_rows(client, ds, "q.jsonl", records)
    assert failed["status"] == "failed"
    assert "--columns 问题=prompt,答案=response (proposed from the keys)" in failed["error"]
    mapped = import_rows(client, ds, "q.jsonl", records, columns="问题=prompt,答案=response")
    auto = import_rows(client, ds, "q2.jsonl", records, columns="auto")
    assert (mapped["status"], mapped["imported"]) == ("done", 3)
    assert (auto["status"], auto["imported"]) == ("done", 3)
    page = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"q": "答2"}).json()
    assert page["total"] == 2  # one row from each import
