"""Double review is blind: the first reviewer's verdict and edits stay in the queue until the
second reviewer decided the item too; then both are made as edits of the row, in order, and the
agreement figures are the same as before."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from studio_helpers import error_shape, import_rows, new_dataset

from sftforge.studio.routes._deps import user_of

API = "/api/reviews/queues"


@pytest.fixture
def client(studio_app: FastAPI) -> Any:
    """The acting user from an ``X-User`` header (in place of a login)."""

    def from_header(request: Request) -> str:
        return request.headers.get("x-user", "local")

    studio_app.dependency_overrides[user_of] = from_header
    with TestClient(studio_app, raise_server_exceptions=False) as c:
        yield c


def _as(name: str) -> dict[str, str]:
    return {"X-User": name}


def _next(client: TestClient, qid: str, user: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"{API}/{qid}/next", params=params, headers=_as(user))
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def _decide(client: TestClient, qid: str, user: str, shown: dict[str, Any], action: str,
            **extra: Any) -> dict[str, Any]:  # fmt: skip
    body = {"row_id": shown["item"]["row_id"], "action": action,
            "base_revision": shown["record"]["revision"], **extra}  # fmt: skip
    r = client.post(f"{API}/{qid}/decisions", json=body, headers=_as(user))
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def _row(client: TestClient, ds: str, row_id: str) -> dict[str, Any]:
    got: dict[str, Any] = client.get(f"/api/datasets/{ds}/rows/{row_id}").json()
    return got


def _items(client: TestClient, qid: str, viewer: str) -> dict[tuple[str, str], Any]:
    got = client.get(f"{API}/{qid}/items", params={"limit": 500}, headers=_as(viewer)).json()
    return {(i["row_id"], i["reviewer"]): i for i in got["items"]}


def test_the_second_reviewer_sees_nothing_of_the_first_until_both_decided(
    client: TestClient,
) -> None:
    ds = new_dataset(client)
    records = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"问题 {i}"},
                                            {"role": "assistant", "content": f"回答 {i}"}]}
               for i in range(4)]  # fmt: skip
    assert import_rows(client, ds, "qa.jsonl", records)["status"] == "done"
    r = client.post(API, json={"dataset_id": ds, "reviewers": ["ann", "bo"], "per_item": 2})
    qid = r.json()["id"]

    # ann edits the answer of q0, then accepts it
    shown = _next(client, qid, "ann")
    sample = shown["record"]["row"]["sample"]
    sample["messages"][1]["content"] = "安的回答 ann's answer"
    _decide(client, qid, "ann", shown, "edit", sample=sample)
    mine = _next(client, qid, "ann")  # the item stays hers, with her edit shown to her
    assert mine["item"]["row_id"] == "q0"
    assert mine["record"]["row"]["sample"]["messages"][1]["content"] == "安的回答 ann's answer"
    _decide(client, qid, "ann", mine, "accept")

    # nothing of it reaches the row, its history, the browse page or bo
    row = _row(client, ds, "q0")
    assert row["revision"] == 0 and row["row"]["status"] == ""
    assert row["row"]["sample"]["messages"][1]["content"] == "回答 0"
    assert client.get(f"/api/datasets/{ds}/edits").json()["edits"] == []
    page = client.get(f"/api/datasets/{ds}/versions/head/rows").json()["rows"]
    assert {r["status"] for r in page} == {""} and not any(r["edited"] for r in page)
    bo = _next(client, qid, "bo")
    assert bo["item"]["row_id"] == "q0" and bo["record"]["revision"] == 0
    assert bo["record"]["row"]["sample"]["messages"][1]["content"] == "回答 0"
    assert bo["record"]["row"]["status"] == ""
    seen_by_bo = _items(client, qid, "bo")[("q0", "ann")]
    assert seen_by_bo["hidden"] is True and seen_by_bo["status"] is None
    assert not seen_by_bo["edited"] and seen_by_bo["reason"] is None
    assert _items(client, qid, "ann")[("q0", "ann")]["status"] == "accepted"

    # the record page opened from the queue reads the row through the item: hers with her edit,
    # bo's without it; someone with no item on the row gets a 404
    def item(user: str) -> Any:
        return client.get(f"{API}/{qid}/items/q0", headers=_as(user))

    assert item("ann").json()["record"]["row"]["sample"]["messages"][1]["content"] == (
        "安的回答 ann's answer"
    )
    assert item("bo").json()["record"]["row"]["sample"]["messages"][1]["content"] == "回答 0"
    assert item("bo").json()["per_item"] == 2 and item("bo").json()["item"]["status"] == "pending"
    assert item("cy").status_code == 404 and error_shape(item("cy").json())["field"] == "row_id"

    # bo rejects: the item is complete, both decisions become edits of the row, in order
    _decide(client, qid, "bo", bo, "reject", reason="太长")
    row = _row(client, ds, "q0")
    assert row["row"]["sample"]["messages"][1]["content"] == "安的回答 ann's answer"
    assert row["row"]["status"] == "flagged"
    assert row["row"]["reason"] == "reviewers disagree: ann accepted, bo rejected"
    log = client.get(f"/api/datasets/{ds}/edits").json()["edits"]
    assert [(e["user"], e["kind"]) for e in reversed(log)] == [
        ("ann", "sample"), ("ann", "status"), ("bo", "status")]  # fmt: skip
    assert _items(client, qid, "bo")[("q0", "ann")]["status"] == "accepted"

    # ann cannot undo under bo's completing decision; bo's undo hides ann's work again
    r = client.post(f"{API}/{qid}/undo", headers=_as("ann"))
    assert r.status_code == 409 and error_shape(r.json())["code"] == "conflict"
    assert client.post(f"{API}/{qid}/undo", headers=_as("bo")).status_code == 200
    row = _row(client, ds, "q0")
    assert row["row"]["status"] == "" and row["row"]["sample"]["messages"][1]["content"] == "回答 0"
    assert _items(client, qid, "bo")[("q0", "ann")]["hidden"] is True
    bo = _next(client, qid, "bo")
    _decide(client, qid, "bo", bo, "accept")
    row = _row(client, ds, "q0")
    assert row["row"]["status"] == "accepted"
    assert row["row"]["sample"]["messages"][1]["content"] == "安的回答 ann's answer"

    # the rest of the docs' example: ann A R A, bo R R A on q1..q3 -> po 0.75, kappa 0.5
    for user, labels in (("ann", ["reject", "accept", "accept"]),
                         ("bo", ["reject", "accept", "reject"])):  # fmt: skip
        for action in labels:
            shown = _next(client, qid, user)
            extra = {"reason": "off"} if action == "reject" else {}
            _decide(client, qid, user, shown, action, **extra)
    got = client.get(f"{API}/{qid}/agreement").json()
    assert (got["items"], got["agreed"], got["percent"]) == (4, 3, 75.0)
    assert got["expected"] == 0.5 and got["kappa"] == 0.5
    states = {rid: _row(client, ds, rid)["row"]["status"] for rid in ("q1", "q2", "q3")}
    assert states == {"q1": "rejected", "q2": "accepted", "q3": "flagged"}
