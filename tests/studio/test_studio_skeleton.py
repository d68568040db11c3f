"""The studio's skeleton end to end: project -> dataset -> import -> browse, the error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset


def test_import_then_browse_first_page(client: TestClient) -> None:
    ds = new_dataset(client)
    imp = import_rows(client, ds, "a.jsonl", alpaca(30))
    assert imp["status"] == "done", imp
    assert (imp["read"], imp["imported"], imp["rejected"]) == (30, 30, 0)
    head = client.get(f"/api/datasets/{ds}").json()["head_version"]
    assert head == imp["version_id"]
    page = client.get(f"/api/datasets/{ds}/versions/{head}/rows", params={"limit": 5}).json()
    assert page["total"] == 30
    assert [r["row_id"] for r in page["rows"]] == [f"a.jsonl:{i}" for i in range(1, 6)]
    first = page["rows"][0]
    assert first["first_user"] == "第0个问题: 什么是数据集 0?"
    assert (first["n_turns"], first["n_user"], first["n_assistant"]) == (2, 1, 1)
    assert "search" not in first and "sample" not in first


def test_unknown_route_and_method_and_body_use_the_error_shape(client: TestClient) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and error_shape(r.json())["code"] == "not_found"
    r = client.delete("/api/projects")
    assert r.status_code == 405 and error_shape(r.json())["code"] == "method_not_allowed"
    r = client.post("/api/projects", json={})
    err = error_shape(r.json())
    assert r.status_code == 422 and err["code"] == "invalid" and err["field"] == "name"
