"""/api/sources and /api/connections against real servers on loopback (pyftpdlib FTP, moto S3,
http.server), with allow_private_urls for those tests only; SSRF to 127.0.0.1 and
169.254.169.254 refused without it; server paths confined to the data root; Hugging Face
datasets on disk and from the hub cache; no credential in any answer or log line."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from guardkit import Recorder, assert_error, client, new_dataset, run_import, settings

sys.path.insert(0, str(Path(__file__).parents[1] / "remote"))
from servers import (
    FTP_PASSWORD,
    FTP_USER,
    S3,
    S3_KEY_ID,
    S3_SECRET,
    ftp_server,
    http_server,
    s3_server,
)

ROWS = '{"instruction": "你好", "output": "hello"}\n{"instruction": "q2", "output": "a2"}\n'


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The connection's keys must be what works: none in the environment or files."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "SFTFORGE_S3_ENDPOINT",
        "SFTFORGE_FTP_USER",
        "SFTFORGE_FTP_PASSWORD",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture(scope="module")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    (folder / "data.jsonl").write_text(ROWS, encoding="utf-8")
    (folder / "bad.jsonl").write_text('{"nothing": 1}\n', encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ftp(served_dir: Path) -> Iterator[str]:
    with ftp_server(served_dir) as url:
        yield url


@pytest.fixture(scope="module")
def http(served_dir: Path) -> Iterator[str]:
    with http_server(served_dir) as url:
        yield url


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        server.put("bucket", "dir/data.jsonl", ROWS.encode())
        yield server


def _import(c: TestClient, **source: object) -> dict:
    answer = c.post("/api/sources/import", json={"dataset_id": new_dataset(c), **source})
    assert answer.status_code == 202, answer.text
    assert c.get(f"/api/jobs/{answer.json()['job_id']}").json()["kind"] == "source_import"
    return run_import(c, answer.json())


def _staged(c: TestClient) -> list[Path]:
    """What is left in the studio's staging folder."""
    folder = c.app.state.settings.folder("staging")  # type: ignore[attr-defined]
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _failed(c: TestClient, body: dict[str, object]) -> str:
    """A source whose download fails: the request is accepted (the download is the job's), the
    job fails and the import records the one line; nothing of it stays staged. The line."""
    answer = c.post("/api/sources/import", json=body)
    assert answer.status_code == 202, answer.text
    row = run_import(c, answer.json())
    job = c.get(f"/api/jobs/{answer.json()['job_id']}").json()
    assert (row["status"], job["status"]) == ("failed", "failed"), (row, job)
    assert row["error"] == job["message"] and row["version_id"] is None
    assert c.get(f"/api/imports/{row['id']}").json()["error"] == row["error"]
    assert _staged(c) == []
    return str(row["error"])


def test_ftp_connection(tmp_path: Path, ftp: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rec = Recorder()
    c = client(settings(tmp_path, allow_private_urls=True), rec)
    port = urlsplit(ftp).port
    made = c.post(
        "/api/connections",
        json={
            "name": "nas",
            "kind": "ftp",
            "settings": {"host": "127.0.0.1", "port": port, "username": FTP_USER},
            "secrets": {"password": FTP_PASSWORD},
        },
    )
    assert made.status_code == 201 and made.json()["secret_set"] is True
    conn_id = made.json()["id"]
    row = _import(c, kind="url", url="data.jsonl", connection_id=conn_id)
    assert (row["status"], row["read"], row["imported"]) == ("done", 2, 2), row
    assert FTP_PASSWORD not in row["source_json"]
    # a wrong password fails in one line with the password masked
    c.patch(f"/api/connections/{conn_id}", json={"secrets": {"password": "wrong-" + FTP_PASSWORD}})
    assert _staged(c) == []  # the downloaded file is gone once imported
    body = {"dataset_id": new_dataset(c), "kind": "url", "url": "data.jsonl"}
    assert "530" in _failed(c, {**body, "connection_id": conn_id})
    c.get("/api/connections")
    c.get(f"/api/connections/{conn_id}")
    rec.assert_absent(FTP_PASSWORD)
    assert FTP_PASSWORD not in caplog.text


def test_s3_connection(tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rec = Recorder()
    c = client(settings(tmp_path, allow_private_urls=True), rec)
    made = c.post(
        "/api/connections",
        json={
            "name": "minio",
            "kind": "s3",
            "settings": {"endpoint": s3.endpoint, "region": "us-east-1", "bucket": "bucket"},
            "secrets": {"access_key_id": S3_KEY_ID, "secret_access_key": S3_SECRET},
        },
    ).json()
    row = _import(c, kind="url", url="dir/data.jsonl", connection_id=made["id"])
    assert (row["status"], row["imported"]) == ("done", 2), row
    row = _import(c, kind="url", url="s3://bucket/dir/data.jsonl", connection_id=made["id"])
    assert row["status"] == "done"
    assert _staged(c) == []
    missing = {"dataset_id": new_dataset(c), "kind": "url", "url": "s3://bucket/none.jsonl"}
    assert "none.jsonl" in _failed(c, {**missing, "connection_id": made["id"]})
    c.get("/api/connections")
    rec.assert_absent(S3_SECRET, S3_KEY_ID)
    assert S3_SECRET not in caplog.text


def test_connection_validation_and_secret_handling(tmp_path: Path) -> None:
    rec = Recorder()
    c = client(settings(tmp_path), rec)
    assert_error(c.post("/api/connections", json={"name": "x", "kind": "gopher"}), 400, "invalid")
    err = assert_error(
        c.post(
            "/api/connections",
            json={"name": "x", "kind": "ftp", "settings": {"host": "h", "password": "pw-Leak-123"}},
        ),
        400,
        "invalid",
    )
    assert "secrets" in err["message"]
    assert_error(
        c.post(
            "/api/connections",
            json={
                "name": "x",
                "kind": "url",
                "settings": {"base_url": "https://u:pw-Leak-456@example.com/"},
            },
        ),
        400,
        "invalid",
    )
    assert_error(
        c.post(
            "/api/connections",
            json={"name": "x", "kind": "ftp", "settings": {"host": "h", "port": 70000}},
        ),
        400,
        "invalid",
    )
    made = c.post(
        "/api/connections",
        json={
            "name": "w",
            "kind": "url",
            "settings": {"base_url": "https://example.com/d"},
            "secrets": {"password": "pw-Keep-789"},
        },
    ).json()
    assert made["secret_set"] is True and "secrets" not in made
    kept = c.patch(f"/api/connections/{made['id']}", json={"name": "w2"}).json()
    assert kept["secret_set"] is True and kept["name"] == "w2"
    cleared = c.patch(f"/api/connections/{made['id']}", json={"secrets": {"password": None}}).json()
    assert cleared["secret_set"] is False
    assert c.delete(f"/api/connections/{made['id']}").json() == {"ok": True}
    assert_error(c.get(f"/api/connections/{made['id']}"), 404, "not_found")
    rec.assert_absent("pw-Leak-123", "pw-Leak-456", "pw-Keep-789")


def test_ssrf_refused_without_the_setting(tmp_path: Path, http: str, ftp: str, s3: S3) -> None:
    c = client(settings(tmp_path))
    dataset = new_dataset(c)
    for url in (
        f"{http}/data.jsonl",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://localhost:1/x",
        f"{ftp}/data.jsonl",
    ):
        err = assert_error(
            c.post("/api/sources/import", json={"dataset_id": dataset, "kind": "url", "url": url}),
            400,
            "unsafe_url",
        )
        assert "allow_private_urls" in (err["hint"] or "")
    conn = c.post(
        "/api/connections",
        json={
            "name": "m",
            "kind": "s3",
            "settings": {"endpoint": s3.endpoint, "bucket": "bucket"},
            "secrets": {"access_key_id": S3_KEY_ID, "secret_access_key": S3_SECRET},
        },
    ).json()
    assert_error(
        c.post(
            "/api/sources/import",
            json={
                "dataset_id": dataset,
                "kind": "url",
                "url": "dir/data.jsonl",
                "connection_id": conn["id"],
            },
        ),
        400,
        "unsafe_url",
    )
    assert_error(
        c.post(
            "/api/sources/import",
            json={"dataset_id": dataset, "kind": "url", "url": "file:///etc/passwd"},
        ),
        400,
        "invalid",
    )
    assert_error(
        c.post(
            "/api/sources/import",
            json={"dataset_id": dataset, "kind": "url", "url": "http://u:p-Secret-1@example.com/x"},
        ),
        400,
        "invalid",
    )
    unknown = {"dataset_id": dataset, "kind": "url", "url": "https://no-such-host.invalid/x"}
    assert (
        "resolve"
        in assert_error(c.post("/api/sources/import", json=unknown), 400, "source_failed")[
            "message"
        ]
    )
    assert not any((tmp_path / "home" / "staging").iterdir())


def test_no_ambient_server_credentials(
    tmp_path: Path, ftp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a connection the server's own logins (env, ~/.netrc, AWS chain) are not lent out."""
    monkeypatch.setenv("SFTFORGE_FTP_USER", FTP_USER)
    monkeypatch.setenv("SFTFORGE_FTP_PASSWORD", FTP_PASSWORD)
    c = client(settings(tmp_path, allow_private_urls=True))
    dataset = new_dataset(c)
    body = {"dataset_id": dataset, "kind": "url", "url": f"{ftp}/data.jsonl"}
    line = _failed(c, body)
    assert "530" in line and "anonymous@" in line
    body["url"] = "s3://bucket/dir/data.jsonl"
    assert (
        "connection"
        in assert_error(c.post("/api/sources/import", json=body), 400, "invalid")["message"]
    )


def test_url_allowed_with_the_setting(tmp_path: Path, http: str) -> None:
    c = client(settings(tmp_path, allow_private_urls=True, max_upload_bytes=len(ROWS.encode())))
    row = _import(c, kind="url", url=f"{http}/data.jsonl")
    assert (row["status"], row["imported"]) == ("done", 2), row
    assert _staged(c) == []
    small = client(settings(tmp_path / "s", allow_private_urls=True, max_upload_bytes=10))
    body = {"dataset_id": new_dataset(small), "kind": "url", "url": f"{http}/data.jsonl"}
    assert "larger than the 10-byte limit" in _failed(small, body)
    # downloaded but not importable: the import fails and the download stays for the page
    body = {"dataset_id": new_dataset(c), "kind": "url", "url": f"{http}/bad.jsonl"}
    answer = c.post("/api/sources/import", json=body)
    row = run_import(c, answer.json())
    assert row["status"] == "failed" and "bad.jsonl" in row["error"], row
    assert [p.name for p in _staged(c)] == ["bad.jsonl"]
    body = {"dataset_id": new_dataset(small), "kind": "url", "url": f"{http}/none.jsonl"}
    assert "none.jsonl: no such file on the server" in _failed(small, body)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jsonl").write_text(ROWS, encoding="utf-8")
    secret = tmp_path / "outside.jsonl"
    secret.write_text(ROWS, encoding="utf-8")
    os.symlink(secret, root / "link.jsonl")
    os.symlink(tmp_path, root / "up")
    return root


def test_server_paths(tmp_path: Path, data_root: Path) -> None:
    c = client(settings(tmp_path, data_root=data_root))
    row = _import(c, kind="server_path", path="sub/a.jsonl")
    assert (row["status"], row["imported"]) == ("done", 2)
    assert str(data_root) not in row["source_json"]
    dataset = new_dataset(c)
    for bad in (
        "../outside.jsonl",
        "link.jsonl",
        "up/outside.jsonl",
        str(tmp_path / "outside.jsonl"),
        "sub/../../outside.jsonl",
    ):
        assert_error(
            c.post(
                "/api/sources/import",
                json={"dataset_id": dataset, "kind": "server_path", "path": bad},
            ),
            403,
            "path_outside_root",
        )
    assert_error(
        c.post(
            "/api/sources/import",
            json={"dataset_id": dataset, "kind": "server_path", "path": "sub/none.jsonl"},
        ),
        404,
        "not_found",
    )
    assert_error(
        c.post("/api/sources/import", json={"dataset_id": dataset, "kind": "server_path"}),
        400,
        "invalid",
    )
    listing = c.get("/api/sources/files").json()
    assert [e["name"] for e in listing["entries"]] == ["sub"]  # links out of the root are hidden
    assert (
        c.get("/api/sources/files", params={"path": "sub"}).json()["entries"][0]["name"]
        == "a.jsonl"
    )
    assert_error(c.get("/api/sources/files", params={"path": "../"}), 403, "path_outside_root")
    none = client(settings(tmp_path / "n"))
    assert_error(
        none.post(
            "/api/sources/import",
            json={"dataset_id": new_dataset(none), "kind": "server_path", "path": "a"},
        ),
        400,
        "server_paths_disabled",
    )


def test_hf_dataset_on_disk_and_from_the_cache(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(
        [
            {"instruction": "你好", "output": "hi"},
            {"instruction": "b", "output": "c"},
            {"instruction": "d", "output": "e"},
        ]
    ).save_to_disk(str(data_root / "saved"))
    cache = tmp_path / "hub"
    snap = cache / "datasets--owner--name" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "train.jsonl").write_text(ROWS, encoding="utf-8")
    (cache / "datasets--owner--name" / "refs").mkdir()
    (cache / "datasets--owner--name" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = client(settings(tmp_path, data_root=data_root))
    row = _import(c, kind="hf", dataset="saved")
    assert (row["status"], row["imported"]) == ("done", 3), row
    row = _import(c, kind="hf", dataset="owner/name")
    assert (row["status"], row["imported"]) == ("done", 2), row
    assert "hf://datasets/owner/name" in row["source_json"]
    dataset = new_dataset(c)
    assert_error(
        c.post(
            "/api/sources/import", json={"dataset_id": dataset, "kind": "hf", "dataset": "../x"}
        ),
        403,
        "path_outside_root",
    )
    assert_error(
        c.post(
            "/api/sources/import",
            json={"dataset_id": dataset, "kind": "hf", "dataset": "sub/a.jsonl"},
        ),
        400,
        "invalid",
    )


def test_hf_folder_with_a_shard_linked_out_of_the_root(tmp_path: Path, data_root: Path) -> None:
    folder = data_root / "shards"
    folder.mkdir()
    (folder / "train-00000-of-00001.jsonl").write_text(ROWS, encoding="utf-8")
    os.symlink(tmp_path / "outside.jsonl", folder / "train-00001-of-00001.jsonl")
    c = client(settings(tmp_path, data_root=data_root))
    body = {"dataset_id": new_dataset(c), "kind": "hf", "dataset": "shards"}
    assert_error(c.post("/api/sources/import", json=body), 403, "path_outside_root")


def test_hub_ids_cannot_climb_out_of_the_cache(tmp_path: Path, data_root: Path) -> None:
    c = client(settings(tmp_path, data_root=data_root))
    dataset = new_dataset(c)
    for bad in ("hf://datasets/owner/name/../../../../etc", "owner/name@..", "owner/..", "./sub"):
        body = {"dataset_id": dataset, "kind": "hf", "dataset": bad}
        assert_error(c.post("/api/sources/import", json=body), 403, "path_outside_root")


def test_a_source_job_run_again_after_a_restart_imports_what_it_downloaded(
    tmp_path: Path, http: str
) -> None:
    """A job re-queued at start-up finds its whole download (written as .part, renamed when
    whole) and imports it without fetching again; a leftover .part is not imported."""
    c = client(settings(tmp_path, allow_private_urls=True))
    body = {"dataset_id": new_dataset(c), "kind": "url", "url": f"{http}/gone.jsonl"}
    answer = c.post("/api/sources/import", json=body).json()
    job = c.get(f"/api/jobs/{answer['job_id']}").json()
    assert (
        "secret" not in str(job["params"]).lower() and job["params"]["fetch"]["url"] == body["url"]
    )
    target = Path(job["params"]["path"])
    target.parent.mkdir(parents=True)
    target.write_text(ROWS, encoding="utf-8")  # what the first run had downloaded
    row = run_import(c, answer)
    assert (row["status"], row["imported"]) == ("done", 2), row  # gone.jsonl was not fetched
    assert _staged(c) == []
    # only a .part left: the download runs again (and here fails: the file is not on the server)
    again = c.post("/api/sources/import", json=body).json()
    target = Path(c.get(f"/api/jobs/{again['job_id']}").json()["params"]["path"])
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_text(ROWS[:20], encoding="utf-8")
    row = run_import(c, again)
    assert row["status"] == "failed" and "gone.jsonl" in row["error"], row
    assert _staged(c) == []
