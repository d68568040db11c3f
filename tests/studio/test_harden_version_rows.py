"""A row of an older version is that version's row (read-only), not the head's (issue 13)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset


def _row(client: TestClient, ds: str, row_id: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/datasets/{ds}/rows/{row_id}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_an_older_versions_row_is_its_own_and_read_only(client: TestClient) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "a.jsonl", alpaca(5))["status"] == "done"
    first = client.get(f"/api/datasets/{ds}").json()["head_version"]
    client.put(f"/api/datasets/{ds}/tags/v1", json={"version": first})

    shown = _row(client, ds, "a.jsonl:2")
    sample = shown["row"]["sample"]
    old_answer = sample["messages"][-1]["content"]
    sample["messages"][-1]["content"] = "改过的回答 edited"
    put = client.put(
        f"/api/datasets/{ds}/rows/a.jsonl:2",
        json={"sample": sample, "base_revision": shown["revision"]},
    )
    assert put.status_code == 200, put.text
    assert client.post(f"/api/datasets/{ds}/commit", json={"message": "m"}).status_code == 201
    # an edit left open on the new head, too: the old version must not show it either
    head_row = _row(client, ds, "a.jsonl:2")
    review = client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:2", "base_revision": head_row["revision"], "status": "rejected",
              "reason": "太短"},
    )  # fmt: skip
    assert review.status_code == 200, review.text

    head = _row(client, ds, "a.jsonl:2")
    assert head["read_only"] is False and head["edited"] is True
    assert head["row"]["sample"]["messages"][-1]["content"] == "改过的回答 edited"
    assert head["row"]["status"] == "rejected"
    assert _row(client, ds, "a.jsonl:2", version="head") == head

    for ref in (first, "v1"):
        old = _row(client, ds, "a.jsonl:2", version=ref)
        assert old["read_only"] is True and old["revision"] is None and old["edited"] is False
        assert old["version_id"] == first
        assert old["row"]["sample"]["messages"][-1]["content"] == old_answer != "改过的回答 edited"
        assert old["row"]["status"] == "" and old["row"]["edited_by"] is None
        assert "search" not in old["row"]


def test_a_row_missing_from_the_older_version_is_404(client: TestClient) -> None:
    ds = new_dataset(client)
    import_rows(client, ds, "a.jsonl", alpaca(3))
    first = client.get(f"/api/datasets/{ds}").json()["head_version"]
    import_rows(client, ds, "b.jsonl", alpaca(2, start=3))
    assert _row(client, ds, "b.jsonl:1")["read_only"] is False
    r = client.get(f"/api/datasets/{ds}/rows/b.jsonl:1", params={"version": first})
    assert r.status_code == 404 and first in error_shape(r.json())["message"]
    r = client.get(f"/api/datasets/{ds}/rows/a.jsonl:1", params={"version": "nope"})
    assert r.status_code == 404
    error_shape(r.json())


def test_one_file_imported_into_two_datasets_is_two_versions(client: TestClient) -> None:
    """Each dataset gets a version of its own (the dataset's id goes into a first version's
    id): both browse, both list their version, and an edit in one leaves the other alone."""
    one, two = new_dataset(client, "一"), new_dataset(client, "二")
    for ds in (one, two):
        assert import_rows(client, ds, "a.jsonl", alpaca(4))["status"] == "done"
    heads = [client.get(f"/api/datasets/{ds}").json()["head_version"] for ds in (one, two)]
    assert heads[0] != heads[1]
    for ds, head in zip((one, two), heads, strict=True):
        listed = client.get(f"/api/datasets/{ds}/versions")
        assert listed.status_code == 200, listed.text
        assert [v["id"] for v in listed.json()["versions"]] == [head]
        page = client.get(f"/api/datasets/{ds}/versions/head/rows")
        assert page.status_code == 200, page.text
        assert page.json()["total"] == 4
    shown = _row(client, one, "a.jsonl:1")
    sample = shown["row"]["sample"]
    sample["messages"][-1]["content"] = "只改第一个"
    put = client.put(
        f"/api/datasets/{one}/rows/a.jsonl:1",
        json={"sample": sample, "base_revision": shown["revision"]},
    )
    assert put.status_code == 200, put.text
    assert client.post(f"/api/datasets/{one}/commit", json={"message": "m"}).status_code == 201
    untouched = _row(client, two, "a.jsonl:1")["row"]["sample"]["messages"][-1]["content"]
    assert untouched != "只改第一个"
