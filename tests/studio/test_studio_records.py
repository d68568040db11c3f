"""Browse, row edits through the overlay, review changes, undo, commit, the 409 on a stale edit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studio_helpers import alpaca, error_shape, import_rows, new_dataset

from sftforge.studio import edits
from sftforge.studio.errors import ApiError


@pytest.fixture
def ds(client: TestClient) -> str:
    dataset = new_dataset(client)
    imp = import_rows(client, dataset, "a.jsonl", alpaca(40))
    assert imp["status"] == "done", imp
    return dataset


def rows(client: TestClient, ds: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/datasets/{ds}/versions/head/rows", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_paging_is_contiguous_and_bounded(client: TestClient, ds: str) -> None:
    first = rows(client, ds, limit=15)
    second = rows(client, ds, limit=15, offset=15)
    last = rows(client, ds, limit=15, offset=30)
    ids = [r["row_id"] for p in (first, second, last) for r in p["rows"]]
    assert ids == [f"a.jsonl:{i}" for i in range(1, 41)]
    assert len(last["rows"]) == 10 and first["total"] == 40
    assert rows(client, ds, offset=100)["rows"] == []
    r = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"limit": 501})
    assert r.status_code == 422 and error_shape(r.json())["field"] == "limit"


def test_sort_by_length_both_ways(client: TestClient, ds: str) -> None:
    up = [r["chars"] for r in rows(client, ds, sort="chars", limit=40)["rows"]]
    down = [r["chars"] for r in rows(client, ds, sort="chars", desc=True, limit=40)["rows"]]
    assert up == sorted(up) and down == sorted(up, reverse=True) and up[0] < up[-1]
    r = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"sort": "search"})
    assert r.status_code == 422 and error_shape(r.json())["field"] == "sort"


def test_chinese_substring_search_and_filters(client: TestClient, ds: str) -> None:
    # "个问题: 什么是数据集 3?" appears only in row 3 (ids 3 and 30-39 share "数据集 3")
    hit = rows(client, ds, q="第3个问题")
    assert [r["row_id"] for r in hit["rows"]] == ["a.jsonl:4"] and hit["total"] == 1
    many = rows(client, ds, q="数据集 3")
    assert many["total"] == 11
    # case-insensitive for Latin text
    assert rows(client, ds, q="ANSWER 39")["total"] == 1
    # a filter narrows the search; sort applies inside the selection
    narrowed = rows(client, ds, q="数据集 3", filter=["chars:ge:40"], sort="chars", desc=True)
    assert 0 < narrowed["total"] < 11
    assert all(r["chars"] >= 40 for r in narrowed["rows"])
    assert rows(client, ds, filter=["status:eq:"])["total"] == 40
    r = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"filter": "nope:eq:1"})
    assert r.status_code == 422 and error_shape(r.json())["field"] == "filter"
    r = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"filter": "chars:ge:x"})
    assert r.status_code == 422


def test_histogram_counts_every_selected_row(client: TestClient, ds: str) -> None:
    h = client.get(
        f"/api/datasets/{ds}/versions/head/histogram", params={"column": "chars", "bins": 5}
    )
    body = h.json()
    assert h.status_code == 200 and sum(body["counts"]) == 40 and len(body["edges"]) == 6
    # a range filter on the same column keeps the whole strip; another column's filter narrows it
    h2 = client.get(
        f"/api/datasets/{ds}/versions/head/histogram",
        params={"column": "chars", "filter": ["chars:ge:10000"]},
    ).json()
    assert sum(h2["counts"]) == 40
    h3 = client.get(
        f"/api/datasets/{ds}/versions/head/histogram", params={"column": "chars", "q": "第3个"}
    ).json()
    assert sum(h3["counts"]) == 1
    bad = client.get(f"/api/datasets/{ds}/versions/head/histogram", params={"column": "first_user"})
    assert bad.status_code == 422 and error_shape(bad.json())["code"] == "invalid"


def get_row(client: TestClient, ds: str, row_id: str) -> dict[str, Any]:
    r = client.get(f"/api/datasets/{ds}/rows/{row_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_edit_review_undo_commit_make_a_new_version_with_lineage(
    client: TestClient, ds: str
) -> None:
    base_version = client.get(f"/api/datasets/{ds}").json()["head_version"]
    got = get_row(client, ds, "a.jsonl:2")
    assert got["revision"] == 0 and not got["edited"]
    sample = got["row"]["sample"]
    # reorder two turns is an edit of the sample; here: a system prompt, a new answer text
    sample["messages"] = [
        {"role": "system", "content": "你是助手"},
        sample["messages"][0],
        {"role": "assistant", "content": "改过的回答"},
    ]
    put = client.put(
        f"/api/datasets/{ds}/rows/a.jsonl:2", json={"sample": sample, "base_revision": 0}
    )
    assert put.status_code == 200, put.text
    rev = put.json()["id"]
    now = get_row(client, ds, "a.jsonl:2")
    assert now["edited"] and now["revision"] == rev
    assert now["row"]["first_assistant"] == "改过的回答" and now["row"]["has_system"] is True
    assert now["row"]["edited_by"] == "local"
    # the page shows the overlay
    page_row = rows(client, ds, limit=2)["rows"][1]
    assert page_row["edited"] and page_row["first_assistant"] == "改过的回答"
    # review: reject one row, verify another
    rej = client.post(f"/api/datasets/{ds}/review",
                      json={"row_id": "a.jsonl:3", "base_revision": 0, "status": "rejected", "reason": "off topic"})  # fmt: skip
    assert rej.status_code == 200, rej.text
    ver = client.post(f"/api/datasets/{ds}/review",
                      json={"row_id": "a.jsonl:4", "base_revision": 0, "human_verified": True})  # fmt: skip
    assert ver.status_code == 200
    # undo the verification
    undo = client.post(f"/api/datasets/{ds}/edits/{ver.json()['id']}/undo")
    assert undo.status_code == 200 and undo.json()["kind"] == "undo"
    assert get_row(client, ds, "a.jsonl:4")["row"]["human_verified"] is False
    again = client.post(f"/api/datasets/{ds}/edits/{ver.json()['id']}/undo")
    assert again.status_code == 409 and error_shape(again.json())["code"] == "conflict"
    assert len(client.get(f"/api/datasets/{ds}/edits").json()["edits"]) == 4
    # commit: a new head whose parent is the old one, rows carry the edits and their editor
    c = client.post(f"/api/datasets/{ds}/commit", json={"message": "first review"})
    assert c.status_code == 201, c.text
    version = c.json()
    assert version["parent_id"] == base_version and version["kind"] == "edit"
    assert version["rows"] == 40 and version["changed_rows"] == 2
    assert client.get(f"/api/datasets/{ds}").json()["head_version"] == version["id"]
    committed = get_row(client, ds, "a.jsonl:2")
    assert not committed["edited"] and committed["row"]["first_assistant"] == "改过的回答"
    assert committed["row"]["edited_by"] == "local" and committed["row"]["edited_at"]
    assert committed["row"]["made_by"] == "import" and committed["row"]["src_line"] == 2
    assert get_row(client, ds, "a.jsonl:3")["row"]["status"] == "rejected"
    assert get_row(client, ds, "a.jsonl:4")["row"]["human_verified"] is False
    assert client.get(f"/api/datasets/{ds}/edits").json()["edits"] == []
    nothing = client.post(f"/api/datasets/{ds}/commit", json={})
    assert nothing.status_code == 409
    # the old version is unchanged (immutable)
    old = client.get(f"/api/datasets/{ds}/versions/{base_version}/rows", params={"limit": 2}).json()
    assert old["rows"][1]["first_assistant"].startswith("Answer 1")


def test_delete_row_then_commit_drops_it(client: TestClient, ds: str) -> None:
    d = client.delete(f"/api/datasets/{ds}/rows/a.jsonl:1", params={"base_revision": 0})
    assert d.status_code == 200
    assert rows(client, ds, limit=1)["rows"][0]["deleted"] is True
    v = client.post(f"/api/datasets/{ds}/commit", json={}).json()
    assert v["rows"] == 39
    gone = client.get(f"/api/datasets/{ds}/rows/a.jsonl:1")
    assert gone.status_code == 404 and error_shape(gone.json())["code"] == "not_found"


def test_second_user_editing_the_same_row_gets_409_not_a_lost_update(
    client: TestClient, ds: str
) -> None:
    alice = get_row(client, ds, "a.jsonl:5")
    bob = get_row(client, ds, "a.jsonl:5")
    sa, sb = alice["row"]["sample"], bob["row"]["sample"]
    sa["messages"][1]["content"] = "Alice's answer"
    sb["messages"][1]["content"] = "Bob's answer"
    first = client.put(
        f"/api/datasets/{ds}/rows/a.jsonl:5",
        json={"sample": sa, "base_revision": alice["revision"]},
    )
    second = client.put(
        f"/api/datasets/{ds}/rows/a.jsonl:5", json={"sample": sb, "base_revision": bob["revision"]}
    )
    assert first.status_code == 200
    assert second.status_code == 409
    err = error_shape(second.json())
    assert err["code"] == "conflict" and err["field"] == "base_revision" and err["hint"]
    assert get_row(client, ds, "a.jsonl:5")["row"]["first_assistant"] == "Alice's answer"
    # a review change on a stale revision is refused the same way
    stale = client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:5", "base_revision": 0, "status": "accepted"},
    )
    assert stale.status_code == 409


def test_racing_edits_on_one_row_let_exactly_one_through(client: TestClient, ds: str) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    sample = get_row(client, ds, "a.jsonl:6")["row"]["sample"]
    results: list[str] = []
    barrier = threading.Barrier(6)

    def edit(user: str) -> None:
        mine = {
            **sample,
            "messages": [sample["messages"][0], {"role": "assistant", "content": user}],
        }
        barrier.wait()
        try:
            edits.apply_edit(store, ds, "a.jsonl:6", base_revision=0, user=user, sample=mine)
            results.append(f"ok:{user}")
        except ApiError as err:
            results.append(f"{err.status}:{user}")
        finally:
            store.close()

    threads = [threading.Thread(target=edit, args=(f"user{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.startswith("ok:")]
    assert len(winners) == 1 and sum(r.startswith("409:") for r in results) == 5
    assert get_row(client, ds, "a.jsonl:6")["row"]["first_assistant"] == winners[0][3:]


def test_bad_edits_are_refused_with_the_error_shape(client: TestClient, ds: str) -> None:
    bad = client.put(
        f"/api/datasets/{ds}/rows/a.jsonl:1",
        json={"sample": {"messages": [{"role": "assistant", "content": "x"}]}, "base_revision": 0},
    )
    assert bad.status_code == 422 and error_shape(bad.json())["field"] == "sample"
    r = client.post(
        f"/api/datasets/{ds}/review",
        json={"row_id": "a.jsonl:1", "base_revision": 0, "status": "maybe"},
    )
    assert r.status_code == 422 and error_shape(r.json())["field"] == "status"
    r = client.get(f"/api/datasets/{ds}/rows/no-such-row")
    assert r.status_code == 404 and error_shape(r.json())["code"] == "not_found"
    r = client.post(f"/api/datasets/{ds}/edits/999/undo")
    assert r.status_code == 404
