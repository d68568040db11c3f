"""A review decision is one transaction: the row's edit and the queue's update commit together,
so a failure between the two leaves neither (no edited row with a pending item, or the reverse)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset

from sftforge.studio import edits, reviews


def _rows(n: int) -> list[dict[str, object]]:
    return [{"id": f"q{i}", "messages": [{"role": "user", "content": f"问 {i}"},
                                         {"role": "assistant", "content": f"答 {i}"}]}
            for i in range(n)]  # fmt: skip


def test_a_failure_between_edit_and_queue_update_leaves_neither(
    studio_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(studio_app, raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        assert import_rows(client, ds, "qa.jsonl", _rows(3))["status"] == "done"
        queue = client.post("/api/reviews/queues", json={"dataset_id": ds}).json()
        store = studio_app.state.store
        shown = client.get(f"/api/reviews/queues/{queue['id']}/next").json()
        row_id = shown["item"]["row_id"]

        def broken(*args: object, **kwargs: object) -> object:
            raise RuntimeError("disk full between the two writes")

        monkeypatch.setattr(reviews, "_set_item", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            reviews.decide(store, queue["id"], user="local", row_id=row_id, action="accept",
                           base_revision=shown["record"]["revision"])  # fmt: skip
        # neither write happened: no edit of the row, the item still pending, no decision
        assert edits.open_edits(store, ds) == []
        assert edits.current_row(store, ds, row_id)["row"]["status"] == ""
        item = store.one("SELECT status FROM queue_items WHERE queue_id=? AND row_id=?",
                         (queue["id"], row_id))  # fmt: skip
        assert item == {"status": "pending"}
        assert store.all("SELECT * FROM review_decisions") == []

        monkeypatch.undo()  # the same decision now goes through, both writes together
        done = reviews.decide(store, queue["id"], user="local", row_id=row_id, action="accept",
                              base_revision=shown["record"]["revision"])  # fmt: skip
        assert done["item"]["status"] == "accepted"
        assert edits.current_row(store, ds, row_id)["row"]["status"] == "accepted"
        assert len(store.all("SELECT * FROM review_decisions")) == 1

        # undo is one transaction too: a failure after the row's undo leaves the decision whole
        monkeypatch.setattr(reviews, "_set_item", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            reviews.undo_last(store, queue["id"], user="local")
        assert edits.current_row(store, ds, row_id)["row"]["status"] == "accepted"
        assert [e["kind"] for e in edits.open_edits(store, ds)] == ["status"]
        assert store.one("SELECT undone FROM review_decisions") == {"undone": 0}
        monkeypatch.undo()
        assert reviews.undo_last(store, queue["id"], user="local")["undone"] == "accept"
        assert edits.current_row(store, ds, row_id)["row"]["status"] == ""


def test_apply_edit_refuses_a_connection_outside_a_transaction(studio_app: FastAPI) -> None:
    with TestClient(studio_app, raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        assert import_rows(client, ds, "qa.jsonl", _rows(1))["status"] == "done"
        store = studio_app.state.store
        with pytest.raises(RuntimeError, match=r"open store\.tx"):
            edits.apply_edit(store, ds, "q0", base_revision=0, user="local",
                             changes={"status": "accepted"}, conn=store.conn())  # fmt: skip
        assert edits.open_edits(store, ds) == []
