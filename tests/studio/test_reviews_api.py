"""The review workflow through its API: queues from filters, keyboard-first next/decide/undo,
progress per queue and person, double review with agreement and conflicts, the export policy."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from studio_helpers import error_shape, import_rows, new_dataset, run_jobs

from sftforge.studio import edits
from sftforge.studio.routes._deps import user_of

API = "/api/reviews/queues"


@pytest.fixture
def people(studio_app: FastAPI) -> FastAPI:
    """The app with the acting user taken from an ``X-User`` header (in place of a login)."""

    def from_header(request: Request) -> str:
        return request.headers.get("x-user", "local")

    studio_app.dependency_overrides[user_of] = from_header
    return studio_app


def as_(name: str) -> dict[str, str]:
    return {"X-User": name}


def rows(n: int = 10, llm_every: int = 2) -> list[dict[str, Any]]:
    """``n`` native records ``q0``..; every ``llm_every``-th was answered by an LLM."""
    out = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"q{i}",
            "messages": [
                {"role": "user", "content": f"问题 {i}: what is {i} + {i}?"},
                {"role": "assistant", "content": f"answer {2 * i}"},
            ],
        }
        if i % llm_every == 0:
            rec["meta"] = {"answer_from": "llm", "llm": {"model": "gpt-4", "prompt": "p"}}
        out.append(rec)
    return out


def dataset(client: TestClient, n: int = 10, llm_every: int = 2) -> str:
    ds = new_dataset(client)
    imp = import_rows(client, ds, "qa.jsonl", rows(n, llm_every))
    assert imp["status"] == "done" and imp["imported"] == n, imp
    return ds


def make_queue(client: TestClient, ds: str, **body: Any) -> dict[str, Any]:
    r = client.post(API, json={"dataset_id": ds, **body}, headers=as_("lead"))
    assert r.status_code == 201, r.text
    got: dict[str, Any] = r.json()
    return got


def item_ids(client: TestClient, qid: str, **params: Any) -> list[str]:
    got = client.get(f"{API}/{qid}/items", params={"limit": 500, **params}).json()
    return [it["row_id"] for it in got["items"]]


def decide(client: TestClient, qid: str, user: str, nxt: dict[str, Any], action: str,
           **extra: Any) -> Any:  # fmt: skip
    body = {"row_id": nxt["item"]["row_id"], "action": action,
            "base_revision": nxt["record"]["revision"], **extra}  # fmt: skip
    return client.post(f"{API}/{qid}/decisions", json=body, headers=as_(user))


def next_for(client: TestClient, qid: str, user: str, after: int | None = None) -> Any:
    params = {} if after is None else {"after": after}
    r = client.get(f"{API}/{qid}/next", params=params, headers=as_(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_queues_from_presets_filters_and_a_seeded_sample(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=40, llm_every=4)
        llm = make_queue(client, ds, name="llm rows", preset="llm", reviewers=["ann", "bo"])
        assert llm["items"] == 10 and llm["per_item"] == 1
        assert llm["reviewers"] == ["ann", "bo"] and llm["created_by"] == "lead"
        assert item_ids(client, llm["id"]) == [f"q{i}" for i in range(0, 40, 4)]
        assert item_ids(client, llm["id"], reviewer="ann") == [f"q{i}" for i in range(0, 40, 8)]
        # a 10 % sample of everything, with a seed: 4 rows, the same ones again for the same seed
        a = make_queue(client, ds, percent=10, seed=42)
        b = make_queue(client, ds, percent=10, seed=42)
        c = make_queue(client, ds, percent=10, seed=43)
        assert a["items"] == 4 and a["reviewers"] == ["lead"]  # default reviewer: its creator
        assert item_ids(client, a["id"]) == item_ids(client, b["id"])
        assert item_ids(client, a["id"]) != item_ids(client, c["id"])
        assert a["selection"] == {"preset": None, "q": None, "filters": [], "percent": 10.0,
                                  "seed": 42}  # fmt: skip
        # any browse filter and a Chinese search text
        f = make_queue(client, ds, q="问题 3:", filters=["n_turns:eq:2"])
        assert item_ids(client, f["id"]) == ["q3"]
        listed = client.get(API, params={"dataset_id": ds}).json()["queues"]
        assert [q["id"] for q in listed] == [llm["id"], a["id"], b["id"], c["id"], f["id"]]
        # a reviewer's own queues, with their part of the work
        mine = client.get(API, params={"mine": "true"}, headers=as_("bo")).json()["queues"]
        assert [q["id"] for q in mine] == [llm["id"]]
        assert (mine[0]["mine"]["assigned"], mine[0]["mine"]["pending"]) == (5, 5)
        assert client.get(API, params={"mine": "true"}, headers=as_("zed")).json() == {"queues": []}
        assert client.get(f"{API}/{f['id']}").json()["progress"]["items"] == 1
        assert client.delete(f"{API}/{f['id']}").json() == {"deleted": f["id"]}
        r = client.get(f"{API}/{f['id']}")
        assert r.status_code == 404 and error_shape(r.json())["code"] == "not_found"


def test_keyboard_flow_next_decide_undo_and_progress(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=6)
        qid = make_queue(client, ds, reviewers=["ann", "bo"])["id"]
        first = next_for(client, qid, "ann")
        assert first["item"]["row_id"] == "q0" and first["item"]["position"] == 0
        assert first["record"]["row"]["sample"]["messages"][1]["content"] == "answer 0"
        # q0 was answered by an LLM: its answer is shown as the suggestion
        assert first["record"]["suggestion"]["agent"] == "gpt-4"
        assert first["record"]["suggestion"]["edited"] is False
        r = decide(client, qid, "ann", first, "accept")
        assert r.status_code == 200, r.text
        assert r.json()["item"]["status"] == "accepted" and r.json()["mine"]["done"] == 1

        second = next_for(client, qid, "ann", after=0)
        assert second["item"]["row_id"] == "q2"  # ann's items are q0, q2, q4
        assert second["record"]["suggestion"] is not None
        r = decide(client, qid, "ann", second, "reject", reason="wrong sum")
        assert r.status_code == 200 and r.json()["item"]["reason"] == "wrong sum"
        third = next_for(client, qid, "ann", after=2)
        r = decide(client, qid, "ann", third, "verify")
        assert r.json()["item"] == {**r.json()["item"], "status": "accepted", "verified": True}
        assert next_for(client, qid, "ann", after=4) == {
            "item": None, "done": True, "mine": next_for(client, qid, "ann")["mine"],
        }  # fmt: skip

        bo = next_for(client, qid, "bo")
        assert bo["item"]["row_id"] == "q1" and bo["record"]["suggestion"] is None
        assert decide(client, qid, "bo", bo, "flag", reason="unclear").status_code == 200

        # the decisions are edits of the rows (attributed, through edits.py)
        store = people.state.store
        q2 = edits.current_row(store, ds, "q2")["row"]
        assert (q2["status"], q2["reason"], q2["edited_by"]) == ("rejected", "wrong sum", "ann")
        q4 = edits.current_row(store, ds, "q4")["row"]
        assert q4["status"] == "accepted" and q4["human_verified"] is True
        assert edits.current_row(store, ds, "q1")["row"]["status"] == "flagged"

        prog = client.get(f"{API}/{qid}/progress").json()
        assert prog["items"] == 6 and prog["items_done"] == 4 and prog["percent"] == 66.67
        assert prog["by_status"] == {"pending": 2, "accepted": 2, "rejected": 1, "flagged": 1}
        ann, bo_p = prog["by_person"]
        assert (ann["reviewer"], ann["assigned"], ann["done"], ann["accepted"]) == ("ann", 3, 3, 2)
        assert (ann["rejected"], ann["verified"], ann["percent"]) == (1, 1, 100.0)
        assert (bo_p["reviewer"], bo_p["done"], bo_p["flagged"], bo_p["pending"]) == ("bo", 1, 1, 2)

        # undo (u): ann's last decision, the verify on q4, goes back on the row and the item
        r = client.post(f"{API}/{qid}/undo", headers=as_("ann"))
        assert r.status_code == 200 and r.json()["undone"] == "verify"
        assert r.json()["item"]["status"] == "pending" and r.json()["item"]["verified"] is False
        q4 = edits.current_row(store, ds, "q4")["row"]
        assert q4["status"] == "" and q4["human_verified"] is False
        assert next_for(client, qid, "ann")["item"]["row_id"] == "q4"
        # prev (k) walks back over decided items
        prev = client.get(f"{API}/{qid}/prev", params={"before": 4}, headers=as_("ann")).json()
        assert prev["item"]["row_id"] == "q2" and prev["item"]["status"] == "rejected"


def test_bad_input_gets_the_one_error_shape(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=4)
        qid = make_queue(client, ds, reviewers=["ann"])["id"]
        cases: list[tuple[str, str, dict[str, Any] | None, int, str, str | None]] = [
            ("post", API, {"dataset_id": ds, "preset": "nope"}, 422, "invalid", "preset"),
            ("post", API, {"dataset_id": ds, "filters": ["bogus:eq:1"]}, 422, "invalid", "filter"),
            ("post", API, {"dataset_id": ds, "percent": 0}, 422, "invalid", "percent"),
            ("post", API, {"dataset_id": ds, "per_item": 2}, 422, "invalid", "reviewers"),
            ("post", API, {"dataset_id": ds, "per_item": 3, "reviewers": ["a", "b", "c"]},
             422, "invalid", "per_item"),
            ("post", API, {"dataset_id": ds, "q": "no such text 无"}, 422, "invalid", "filter"),
            ("post", API, {"dataset_id": "d_missing"}, 404, "not_found", None),
            ("post", API, {}, 422, "invalid", "dataset_id"),
            ("get", f"{API}/q_missing", None, 404, "not_found", None),
            ("get", f"{API}/q_missing/next", None, 404, "not_found", None),
            ("get", f"{API}/{qid}/items?status=done", None, 422, "invalid", "status"),
            ("get", f"{API}/{qid}/prev", None, 422, "invalid", "before"),
            ("get", f"{API}/{qid}/agreement", None, 409, "conflict", None),
            ("post", f"{API}/{qid}/undo", None, 409, "conflict", None),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q0", "action": "reject", "base_revision": 0}, 422, "invalid", "reason"),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q0", "action": "shout", "base_revision": 0}, 422, "invalid", "action"),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q0", "action": "edit", "base_revision": 0}, 422, "invalid", "sample"),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q0", "action": "edit", "base_revision": 0,
              "sample": {"messages": [{"role": "user", "content": ""}]}}, 422, "invalid", "sample"),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q0", "action": "accept", "base_revision": 7}, 409, "conflict",
             "base_revision"),
            ("post", f"{API}/{qid}/decisions",
             {"row_id": "q9", "action": "accept", "base_revision": 0}, 404, "not_found", "row_id"),
            ("delete", f"{API}/q_missing", None, 404, "not_found", None),
        ]  # fmt: skip
        for method, url, body, status, code, field in cases:
            kwargs: dict[str, Any] = {"headers": as_("ann")}
            if body is not None:
                kwargs["json"] = body
            r = client.request(method.upper(), url, **kwargs)
            assert r.status_code == status, (url, body, r.text)
            err = error_shape(r.json())
            assert (err["code"], err["field"]) == (code, field), (url, body, err)
        # someone else's item: not theirs to decide
        r = client.post(f"{API}/{qid}/decisions", headers=as_("bo"),
                        json={"row_id": "q0", "action": "accept", "base_revision": 0})  # fmt: skip
        assert r.status_code == 404 and error_shape(r.json())["field"] == "row_id"
        # nothing above changed a row or an item
        assert client.get(f"{API}/{qid}/progress").json()["decisions"] == 0
        assert edits.open_edits(people.state.store, ds) == []


def test_double_review_conflict_and_agreement(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=4)
        q = make_queue(client, ds, reviewers=["ann", "bo"], per_item=2)
        qid = q["id"]
        assert q["progress"]["assignments"] == 8
        # both open q0 at the same revision; ann decides first: blind review keeps her
        # decision in the queue, so bo sees the row as it was and decides at revision 0
        ann0 = next_for(client, qid, "ann")
        bo0 = next_for(client, qid, "bo")
        assert ann0["item"]["row_id"] == bo0["item"]["row_id"] == "q0"
        assert ann0["record"]["revision"] == bo0["record"]["revision"] == 0
        assert decide(client, qid, "ann", ann0, "accept").status_code == 200
        assert next_for(client, qid, "bo") == bo0
        # someone changes the row in the record view meanwhile: bo's stale decision is refused
        tagged = client.post(f"/api/datasets/{ds}/review", headers=as_("lead"),
                             json={"row_id": "q0", "base_revision": 0, "tags": ["checked"]})  # fmt: skip
        assert tagged.status_code == 200, tagged.text
        r = decide(client, qid, "bo", bo0, "accept")
        assert r.status_code == 409
        assert error_shape(r.json())["code"] == "conflict"
        assert client.get(f"{API}/{qid}/progress").json()["by_person"][1]["done"] == 0
        # bo reloads (the next item is q0 again, at its new revision) and decides
        bo0 = next_for(client, qid, "bo")
        assert bo0["item"]["row_id"] == "q0" and bo0["record"]["revision"] > 0
        assert bo0["record"]["row"]["status"] == ""
        assert decide(client, qid, "bo", bo0, "accept").status_code == 200
        # the rest: ann A R A, bo R R A -> pairs (A,A) (A,R) (R,R) (A,A)
        for user, labels in (("ann", ["accept", "reject", "accept"]),
                             ("bo", ["reject", "reject", "accept"])):  # fmt: skip
            pos = 0
            for action in labels:
                nxt = next_for(client, qid, user, after=pos)
                pos = nxt["item"]["position"]
                extra = {"reason": "off"} if action == "reject" else {}
                assert decide(client, qid, user, nxt, action, **extra).status_code == 200
        got = client.get(f"{API}/{qid}/agreement").json()
        # po = 3/4; ann A:3 R:1, bo A:2 R:2; pe = (3*2 + 1*2) / 16 = 0.5; kappa = 0.25/0.5
        assert (got["items"], got["agreed"], got["percent"]) == (4, 3, 75.0)
        assert got["expected"] == 0.5 and got["kappa"] == 0.5
        assert got["labels"] == ["accepted", "rejected"]
        assert got["matrix"] == [
            {"first": "accepted", "second": "accepted", "items": 2},
            {"first": "accepted", "second": "rejected", "items": 1},
            {"first": "rejected", "second": "rejected", "items": 1},
        ]
        assert got["by_pair"] == [{"reviewers": ["ann", "bo"], "items": 4, "agreed": 3,
                                   "percent": 75.0, "kappa": 0.5, "expected": 0.5}]  # fmt: skip
        prog = client.get(f"{API}/{qid}/progress").json()
        assert prog["items_done"] == 4 and prog["decisions"] == 8 and prog["percent"] == 100.0
        # where they agree the row takes the decision; where not, it is flagged to be settled
        store = people.state.store
        state = {rid: edits.current_row(store, ds, rid)["row"] for rid in ("q0", "q1", "q2", "q3")}
        assert {rid: r["status"] for rid, r in state.items()} == {
            "q0": "accepted", "q1": "flagged", "q2": "rejected", "q3": "accepted"}  # fmt: skip
        assert state["q1"]["reason"] == "reviewers disagree: ann accepted, bo rejected"
        edits.commit(store, ds, "lead", "double review")
        settle = make_queue(client, ds, preset="flagged", reviewers=["lead"])
        assert item_ids(client, settle["id"]) == ["q1"]


def _export(client: TestClient, ds: str, policy: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Export the head through the API with ``policy``: {id: last answer}, the job's result."""
    r = client.post(f"/api/datasets/{ds}/exports", json={"format": "sftforge", "policy": policy})
    assert r.status_code == 202, r.text
    run_jobs(client)
    job = client.get(f"/api/exports/{r.json()['id']}").json()
    assert job["status"] == "done", job
    got = client.get(f"/api/exports/{job['id']}/download")
    assert got.status_code == 200
    out = {}
    for line in got.content.splitlines():
        rec = orjson.loads(line)
        assert "suggestion" not in rec.get("meta", {})
        out[rec["id"]] = rec["messages"][-1]["content"]
    return out, job["result"]


def test_export_policy_picks_the_human_answer_or_the_suggestion(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=6)  # q0, q2, q4 answered by an LLM
        qid = make_queue(client, ds, preset="llm", reviewers=["ann"])["id"]
        q0 = next_for(client, qid, "ann")
        sample = q0["record"]["row"]["sample"]
        sample["messages"][1]["content"] = "0 + 0 = 0"
        r = decide(client, qid, "ann", q0, "edit", sample=sample)
        assert r.status_code == 200 and r.json()["item"]["edited"] is True
        # the model's answer is kept beside the human one
        again = next_for(client, qid, "ann")
        assert again["item"]["row_id"] == "q0"  # edited, not yet decided
        assert again["record"]["row"]["sample"]["messages"][1]["content"] == "0 + 0 = 0"
        assert again["record"]["suggestion"]["edited"] is True
        assert again["record"]["suggestion"]["messages"][1]["content"] == "answer 0"
        assert decide(client, qid, "ann", again, "accept").status_code == 200
        q2 = next_for(client, qid, "ann", after=0)
        assert decide(client, qid, "ann", q2, "verify").status_code == 200
        # q4 stays unreviewed; commit the edits into a version
        edits.commit(people.state.store, ds, "ann", "review")
        human_first, result = _export(client, ds, "human_first")
        assert human_first == {"q0": "0 + 0 = 0", "q1": "answer 2", "q2": "answer 4",
                               "q3": "answer 6", "q4": "answer 8", "q5": "answer 10"}  # fmt: skip
        assert result["left_out"] == {} and result["rows"] == 6
        suggestion_first, _ = _export(client, ds, "suggestion_first")
        assert suggestion_first == {**human_first, "q0": "answer 0"}
        # human_only: q4's LLM answer was never checked by a person; counted, not silently gone
        human_only, result = _export(client, ds, "human_only")
        assert human_only == {k: v for k, v in human_first.items() if k != "q4"}
        assert result["left_out"] == {"human_only": 1} and result["rows"] == 5
        r = client.post(f"/api/datasets/{ds}/exports",
                        json={"format": "sftforge", "policy": "model_wins"})  # fmt: skip
        assert r.status_code == 422
        err = error_shape(r.json())
        assert err["field"] == "policy" and "human_first" in (err["hint"] or "")


def test_an_edit_in_the_record_view_keeps_the_suggestion_too(client: TestClient) -> None:
    ds = dataset(client, n=2)
    store = client.app.state.store  # type: ignore[attr-defined]
    current = edits.current_row(store, ds, "q0")
    sample = current["row"]["sample"]
    sample["messages"][1]["content"] = "0"
    edits.apply_edit(store, ds, "q0", base_revision=current["revision"], user="local",
                     sample=sample)  # fmt: skip
    row = edits.current_row(store, ds, "q0")["row"]
    assert row["sample"]["messages"][1]["content"] == "0"
    assert row["sample"]["meta"]["suggestion"]["messages"][1]["content"] == "answer 0"
    # q1 no LLM answered: an edit stores no suggestion
    current = edits.current_row(store, ds, "q1")
    sample = current["row"]["sample"]
    sample["messages"][1]["content"] = "2"
    edits.apply_edit(store, ds, "q1", base_revision=current["revision"], user="local",
                     sample=sample)  # fmt: skip
    assert "suggestion" not in edits.current_row(store, ds, "q1")["row"]["sample"].get("meta", {})


def _recount(app: FastAPI, qid: str) -> dict[str, dict[str, int]]:
    """Progress per person counted afresh from the items (what the kept counts must equal)."""
    rows = app.state.store.all(
        "SELECT reviewer, status, edited, verified FROM queue_items WHERE queue_id=?", (qid,)
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        p = out.setdefault(r["reviewer"], {"assigned": 0, "pending": 0, "accepted": 0,
                                           "rejected": 0, "flagged": 0, "edited": 0,
                                           "verified": 0})  # fmt: skip
        p["assigned"] += 1
        p[r["status"]] += 1
        p["edited"] += r["edited"]
        p["verified"] += r["verified"]
    return out


def test_kept_counts_equal_a_recount_after_decisions_and_undos(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=8)
        qid = make_queue(client, ds, reviewers=["ann", "bo", "cy"], per_item=2)["id"]
        # items: q0 ann+bo, q1 cy+ann, q2 bo+cy, q3 ann+bo, ...
        script = [("ann", "accept"), ("bo", "reject"), ("ann", "refused undo"), ("ann", "edit"),
                  ("ann", "undo"), ("ann", "edit"), ("cy", "flag"), ("bo", "verify"),
                  ("bo", "undo"), ("cy", "accept"), ("ann", "verify"), ("cy", "reject"),
                  ("ann", "accept")]  # fmt: skip
        for user, action in script:
            if action.endswith("undo"):
                r = client.post(f"{API}/{qid}/undo", headers=as_(user))
                if action == "undo":
                    assert r.status_code == 200, r.text
                else:  # bo's decision completed q0 and made both edits: bo undoes first
                    assert r.status_code == 409 and "later edit" in error_shape(r.json())["message"]
                continue
            shown = next_for(client, qid, user)
            extra: dict[str, Any] = {"reason": "why"} if action == "reject" else {}
            if action == "edit":
                sample = shown["record"]["row"]["sample"]
                sample["messages"][1]["content"] += " (checked)"
                extra["sample"] = sample
            r = decide(client, qid, user, shown, action, **extra)
            assert r.status_code == 200, (user, action, r.text)
        prog = client.get(f"{API}/{qid}/progress").json()
        kept = {p["reviewer"]: {k: p[k] for k in ("assigned", "pending", "accepted", "rejected",
                                                  "flagged", "edited", "verified")}
                for p in prog["by_person"]}  # fmt: skip
        assert kept == _recount(people, qid)
        open_rows = people.state.store.one(
            "SELECT COUNT(DISTINCT row_id) AS n FROM queue_items WHERE queue_id=? "
            "AND status='pending'", (qid,))  # fmt: skip
        assert prog["items_done"] == 8 - open_rows["n"]
        # statuses set: ann q0 q1 q3, bo q0, cy q1 q2 q4 (bo's verify on q2 undone) = 7;
        # items both reviewers decided: q0 and q1
        assert prog["decisions"] == 7 and prog["items_done"] == 2


def test_an_item_whose_row_left_the_head_is_shown_as_gone(people: FastAPI) -> None:
    with TestClient(people, raise_server_exceptions=False) as client:
        ds = dataset(client, n=3)
        qid = make_queue(client, ds, reviewers=["ann"])["id"]
        store = people.state.store
        edits.apply_edit(store, ds, "q0", base_revision=0, user="lead", delete=True)
        edits.commit(store, ds, "lead", "drop q0")
        shown = next_for(client, qid, "ann")
        assert shown["item"]["row_id"] == "q0" and shown["record"] is None
        assert "q0" in shown["gone"]
        r = client.post(f"{API}/{qid}/decisions", headers=as_("ann"),
                        json={"row_id": "q0", "action": "accept", "base_revision": 0})  # fmt: skip
        assert r.status_code == 404 and error_shape(r.json())["code"] == "not_found"
        # passing over it reaches the next row
        assert next_for(client, qid, "ann", after=0)["item"]["row_id"] == "q1"
