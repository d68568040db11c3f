"""/api/uploads: create, chunks at offsets, resume after an interrupted chunk (real uvicorn, raw
socket), finish into staging, folder batches, archives, and the 413 limits in the one shape."""

from __future__ import annotations

import io
import socket
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from guardkit import assert_error, client, new_dataset, run_import, served, settings


def _upload(c: httpx.Client, name: str, data: bytes, **extra: object) -> dict:
    made = c.post("/api/uploads", json={"name": name, "size": len(data), **extra})
    assert made.status_code == 201, made.text
    upload_id = made.json()["id"]
    put = c.put(f"/api/uploads/{upload_id}?offset=0", content=data)
    assert put.status_code == 200, put.text
    done = c.post(f"/api/uploads/{upload_id}/finish")
    assert done.status_code == 200, done.text
    return dict(done.json())


def test_upload_then_import(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    rows = b'{"instruction": "\xe4\xbd\xa0\xe5\xa5\xbd", "output": "hi"}\n{"instruction": "q", "output": "a"}\n'
    done = _upload(c, "数据.jsonl", rows)
    assert done["status"] == "staged" and done["staged"] == ["数据.jsonl"]
    assert str(tmp_path) not in str(done)  # no server path goes to the browser
    dataset = new_dataset(c)
    answer = c.post(
        "/api/sources/import",
        json={"dataset_id": dataset, "kind": "upload", "upload_id": done["id"]},
    )
    assert answer.status_code == 202, answer.text
    row = run_import(c, answer.json())
    assert (row["status"], row["read"], row["imported"]) == ("done", 2, 2), row
    # imported: the upload and its staged file are gone
    assert_error(c.get(f"/api/uploads/{done['id']}"), 404, "not_found")
    assert not (tmp_path / "home" / "staging" / done["id"]).exists()


def test_a_failed_import_keeps_the_upload_and_an_archive_keeps_its_other_files(
    tmp_path: Path,
) -> None:
    c = client(settings(tmp_path))
    bad = _upload(c, "bad.jsonl", b'{"nothing": 1}\nnot json\n')
    dataset = new_dataset(c)
    body = {"dataset_id": dataset, "kind": "upload", "upload_id": bad["id"]}
    row = run_import(c, c.post("/api/sources/import", json=body).json())
    assert row["status"] == "failed" and "bad.jsonl" in row["error"], row
    assert c.get(f"/api/uploads/{bad['id']}").json()["staged"] == ["bad.jsonl"]  # kept
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("a.jsonl", '{"instruction": "q", "output": "a"}\n')
        archive.writestr("b.jsonl", '{"instruction": "q2", "output": "a2"}\n')
    both = _upload(c, "two.zip", packed.getvalue())
    assert both["staged"] == ["a.jsonl", "b.jsonl"]
    for name, left in (("a.jsonl", ["b.jsonl"]), ("b.jsonl", None)):
        body = {"dataset_id": dataset, "kind": "upload", "upload_id": both["id"], "file": name}
        row = run_import(c, c.post("/api/sources/import", json=body).json())
        assert row["status"] == "done", row
        got = c.get(f"/api/uploads/{both['id']}")
        if left is None:  # the last file imported: the upload is gone
            assert_error(got, 404, "not_found")
        else:
            assert got.json()["staged"] == left
            assert not (tmp_path / "home" / "staging" / both["id"] / name).exists()


def test_chunks_with_content_range_and_wrong_offsets(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    data = b'{"text": "a"}\n' * 10
    upload_id = c.post("/api/uploads", json={"name": "t.jsonl", "size": len(data)}).json()["id"]
    first = c.put(
        f"/api/uploads/{upload_id}",
        content=data[:50],
        headers={"Content-Range": f"bytes 0-49/{len(data)}"},
    )
    assert first.json()["offset"] == 50
    err = assert_error(
        c.put(f"/api/uploads/{upload_id}?offset=0", content=data), 409, "offset_mismatch"
    )
    assert "50" in (err["hint"] or "")
    assert_error(c.post(f"/api/uploads/{upload_id}/finish"), 409, "incomplete")
    assert_error(c.put(f"/api/uploads/{upload_id}", content=b"x"), 400, "invalid")
    assert_error(
        c.put(f"/api/uploads/{upload_id}", content=b"x", headers={"Content-Range": "nonsense"}),
        400,
        "invalid",
    )
    c.put(f"/api/uploads/{upload_id}?offset=50", content=data[50:])
    assert c.post(f"/api/uploads/{upload_id}/finish").json()["status"] == "staged"
    assert_error(c.get("/api/uploads/u_nosuch"), 404, "not_found")


def test_oversized_uploads_answer_413(tmp_path: Path) -> None:
    c = client(settings(tmp_path, max_upload_bytes=1000))
    assert_error(c.post("/api/uploads", json={"name": "big.jsonl", "size": 1001}), 413, "too_large")
    upload_id = c.post("/api/uploads", json={"name": "a.jsonl", "size": 10}).json()["id"]
    # more bytes than declared: refused, only the declared size kept
    assert_error(c.put(f"/api/uploads/{upload_id}?offset=0", content=b"x" * 500), 413, "too_large")
    assert c.get(f"/api/uploads/{upload_id}").json()["offset"] == 10


def test_too_many_files_in_one_folder_upload(tmp_path: Path) -> None:
    c = client(settings(tmp_path, max_upload_files=3))
    for i in range(3):
        made = c.post(
            "/api/uploads",
            json={"name": f"{i}.jsonl", "size": 2, "rel_path": f"folder/{i}.jsonl", "batch": "b1"},
        )
        assert made.status_code == 201
        assert made.json()["rel_path"] == f"folder/{i}.jsonl"
    assert_error(
        c.post("/api/uploads", json={"name": "3.jsonl", "size": 2, "batch": "b1"}),
        413,
        "too_many_files",
    )


def test_folder_paths_are_sanitised(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    assert_error(
        c.post("/api/uploads", json={"name": "x.jsonl", "size": 1, "rel_path": "../../etc/x"}),
        400,
        "bad_name",
    )
    done = _upload(c, "/abs/x.jsonl", b"{}", rel_path="/abs/dir/x.jsonl")
    assert done["staged"] == ["abs/dir/x.jsonl"]


def test_archive_upload_is_extracted_and_zip_slip_refused(tmp_path: Path) -> None:
    c = client(settings(tmp_path))
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/a.jsonl", '{"text": "a"}\n')
        zf.writestr("d/b.jsonl", '{"text": "b"}\n')
    done = _upload(c, "pack.zip", good.getvalue())
    assert done["staged"] == ["d/a.jsonl", "d/b.jsonl"]
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok.jsonl", "{}")
        zf.writestr("../../../../evil.jsonl", "{}")
    upload_id = c.post(
        "/api/uploads", json={"name": "evil.zip", "size": len(evil.getvalue())}
    ).json()["id"]
    c.put(f"/api/uploads/{upload_id}?offset=0", content=evil.getvalue())
    assert_error(c.post(f"/api/uploads/{upload_id}/finish"), 400, "unsafe_archive")
    home = tmp_path / "home"
    assert not list(home.rglob("evil.jsonl"))
    assert not (home / "staging" / upload_id).exists()  # nothing of it stays staged


def _interrupted_put(base: str, path: str, declared: int, sent: bytes) -> None:
    """A PUT that announces ``declared`` bytes, sends ``sent`` and drops the connection."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{parts.port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        time.sleep(0.3)  # let the server write what arrived


def test_resume_after_an_interrupted_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400  # 100 KiB
    with served(settings(tmp_path)) as base, httpx.Client(base_url=base) as c:
        upload_id = c.post("/api/uploads", json={"name": "r.bin", "size": len(data)}).json()["id"]
        _interrupted_put(base, f"/api/uploads/{upload_id}?offset=0", len(data), data[:30000])
        deadline = time.monotonic() + 5
        while (offset := int(c.head(f"/api/uploads/{upload_id}").headers["Upload-Offset"])) < 30000:
            assert time.monotonic() < deadline, offset
            time.sleep(0.05)
        assert offset == 30000
        rest = c.put(f"/api/uploads/{upload_id}?offset={offset}", content=data[offset:])
        assert rest.status_code == 200, rest.text
        done = c.post(f"/api/uploads/{upload_id}/finish").json()
    staged = tmp_path / "home" / "staging" / upload_id / done["staged"][0]
    assert staged.read_bytes() == data


def test_one_chunk_at_a_time(tmp_path: Path) -> None:
    from sftforge.studio import uploads

    c = client(settings(tmp_path))
    upload_id = c.post("/api/uploads", json={"name": "a.jsonl", "size": 4}).json()["id"]
    uploads._WRITING.add(upload_id)  # as while another request streams a chunk
    try:
        assert_error(c.put(f"/api/uploads/{upload_id}?offset=0", content=b"{}\n\n"), 409, "busy")
        assert_error(c.post(f"/api/uploads/{upload_id}/finish"), 409, "busy")
    finally:
        uploads._WRITING.discard(upload_id)
    assert c.put(f"/api/uploads/{upload_id}?offset=0", content=b"{}\n\n").json()["offset"] == 4


def test_encrypted_zip_is_refused_in_the_one_shape(tmp_path: Path) -> None:
    # a zip member flagged encrypted (bit 0): zipfile cannot read it without a password
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr("a.jsonl", "{}")
    data = bytearray(raw.getvalue())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        data[at + flag_at] |= 1
    c = client(settings(tmp_path))
    upload_id = c.post("/api/uploads", json={"name": "enc.zip", "size": len(data)}).json()["id"]
    c.put(f"/api/uploads/{upload_id}?offset=0", content=bytes(data))
    assert_error(c.post(f"/api/uploads/{upload_id}/finish"), 400, "bad_archive")
