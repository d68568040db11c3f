"""Staged files do not pile up: the core import route deletes a staged file once imported (a failed
import keeps it for the retry), and start-up removes what was left behind longer than
``staging_max_age_hours`` unless a queued job still needs it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient
from studio_helpers import new_dataset, run_jobs, stage

from sftforge.studio.app import create_app

CSV = "问题,答案\n什么是数据?,数据是记录。\n长城有多长?,很长。\n"


def _import(client: TestClient, ds: str, staged: str, **options: str) -> dict[str, object]:
    started = client.post(f"/api/datasets/{ds}/imports", json={"staged": staged, **options})
    assert started.status_code == 202, started.text
    run_jobs(client)
    got: dict[str, object] = client.get(f"/api/imports/{started.json()['id']}").json()
    return got


def test_the_core_route_deletes_an_imported_file_and_keeps_a_failed_one(
    client: TestClient, studio_home: Path
) -> None:
    ds = new_dataset(client)
    staging = studio_home / "staging"
    name = stage(client, "batch/问答.csv", CSV)
    failed = _import(client, ds, name)  # the headers are unknown: the import fails
    assert failed["status"] == "failed"
    assert (staging / name).is_file()  # kept, so the import can be fixed and run again
    done = _import(client, ds, name, columns="问题=prompt,答案=response")
    assert done["status"] == "done" and done["imported"] == 2
    assert not (staging / name).exists() and not (staging / "batch").exists()
    assert staging.is_dir()

    # a file of an upload: the upload goes with its last file
    data = b'{"instruction": "hi", "output": "yo"}\n'
    upload = client.post("/api/uploads", json={"name": "u.jsonl", "size": len(data)}).json()
    assert client.put(f"/api/uploads/{upload['id']}?offset=0", content=data).status_code == 200
    finished = client.post(f"/api/uploads/{upload['id']}/finish").json()
    assert _import(client, ds, f"{upload['id']}/{finished['staged'][0]}")["status"] == "done"
    assert client.get(f"/api/uploads/{upload['id']}").status_code == 404
    assert list(staging.iterdir()) == []


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    for folder, _dirs, files in (
        os.walk(path) if path.is_dir() else [(path.parent, [], [path.name])]
    ):
        for f in files:
            os.utime(Path(folder) / f, (then, then))
    os.utime(path, (then, then))


def test_start_up_removes_what_was_left_behind(client: TestClient, studio_home: Path) -> None:
    ds = new_dataset(client)
    staging = studio_home / "staging"
    old = Path(stage(client, "old.jsonl", "{}\n"))
    stage(client, "old-folder/a.jsonl", "{}\n")
    fresh = Path(stage(client, "fresh.jsonl", "{}\n"))
    needed = stage(client, "queued.jsonl", '{"instruction": "q", "output": "a"}\n')
    started = client.post(f"/api/datasets/{ds}/imports", json={"staged": needed})
    assert started.status_code == 202  # queued, not run: the file must stay
    # an upload never finished, and a finished one never imported
    part = client.post("/api/uploads", json={"name": "p.jsonl", "size": 100}).json()
    assert client.put(f"/api/uploads/{part['id']}?offset=0", content=b"{}").status_code == 200
    done = client.post("/api/uploads", json={"name": "d.jsonl", "size": 3}).json()
    client.put(f"/api/uploads/{done['id']}?offset=0", content=b"{}\n")
    assert client.post(f"/api/uploads/{done['id']}/finish").status_code == 200
    for path in (staging / old, staging / "old-folder", staging / needed,
                 studio_home / "uploads" / f"{part['id']}.part", staging / done["id"]):  # fmt: skip
        _age(path, 8)
    _age(staging / fresh, 6)

    app = create_app(client.app.state.settings, run_jobs=False)  # type: ignore[attr-defined]
    assert sorted(p.name for p in staging.iterdir()) == ["fresh.jsonl", "queued.jsonl"]
    assert not (studio_home / "uploads" / f"{part['id']}.part").exists()
    with TestClient(app) as fresh_client:
        for upload_id in (part["id"], done["id"]):
            assert fresh_client.get(f"/api/uploads/{upload_id}").status_code == 404
        app.state.jobs.run_pending()  # the queued import still finds its file
        got = fresh_client.get(f"/api/imports/{started.json()['id']}").json()
        assert got["status"] == "done", got
