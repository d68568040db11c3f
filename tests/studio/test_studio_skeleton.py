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


def test_projects_list_and_show_their_datasets_and_tags(client: TestClient) -> None:
    assert client.get("/api/projects").json() == {"projects": []}
    ds = new_dataset(client, "数据集")
    projects = client.get("/api/projects").json()["projects"]
    assert [p["name"] for p in projects] == ["proj"] and projects[0]["created_by"] == "local"
    shown = client.get(f"/api/projects/{projects[0]['id']}").json()
    assert [(d["id"], d["name"]) for d in shown["datasets"]] == [(ds, "数据集")]
    r = client.post("/api/projects/p_none/datasets", json={"name": "x"})
    assert r.status_code == 404 and error_shape(r.json())["code"] == "not_found"
    import_rows(client, ds, "a.jsonl", alpaca(2))
    assert client.get(f"/api/datasets/{ds}/tags").json() == {"tags": []}
    client.put(f"/api/datasets/{ds}/tags/v1", json={"version": "head"})
    head = client.get(f"/api/datasets/{ds}").json()
    assert client.get(f"/api/datasets/{ds}/tags").json() == {
        "tags": [{"name": "v1", "version_id": head["head_version"]}]
    }
    assert head["tags"] == [{"name": "v1", "version_id": head["head_version"]}]
    assert client.get(f"/api/datasets/{ds}/versions/v1").json()["tags"] == ["v1"]
