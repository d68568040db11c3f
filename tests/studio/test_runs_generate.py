"""Generation jobs from the studio (/api/datasets/{id}/generate) against the fake
OpenAI-compatible server on loopback: answers with the model and prompt in each row's lineage,
suggestions kept beside human answers for review, LLM-as-judge scores, a budget stop that loses
no row, saved connections whose key never comes back, SSRF and role checks."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studio_helpers import error_shape, import_rows, new_dataset, run_jobs, stage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings

KEY = "sk-studio-Zebra-7741-secret"
RECORDS = [
    {"id": "q1", "messages": [{"role": "user", "content": "什么是数据集?"}]},
    {"id": "q2", "messages": [{"role": "user", "content": "What is a loss mask?"}]},
    {"id": "h1", "messages": [{"role": "user", "content": "1+1?"},
                              {"role": "assistant", "content": "2, written by a person."}]},
    {"id": "h2", "messages": [{"role": "user", "content": "Say something BAD"},
                              {"role": "assistant", "content": "A BAD answer."}]},
]  # fmt: skip


def _scripted(body: dict[str, Any]) -> Reply:
    """Judge prompts get scores (2 for an answer with BAD in it, else 8); others an answer."""
    text = "\n".join(str(m["content"]) for m in body["messages"])
    if "Rate the assistant's final answer" in text or "分别打分" in text:
        s = 2 if "BAD" in text else 8
        return Reply(json.dumps({"harmlessness": 9, "honesty": s, "helpfulness": s,
                                 "overall": s, "rationale": "ok"}))  # fmt: skip
    return Reply(f"ANSWER: {body['messages'][-1]['content']}")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = _scripted
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    # the fake server is on loopback: this studio may reach private addresses
    settings = StudioSettings(home=tmp_path / "home", open_browser=False, allow_private_urls=True)
    app = create_app(settings, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        # prompts without an answer are kept when the import says so
        imported = import_rows(client, ds, "qa.jsonl", RECORDS, require_answer=False)
        assert (imported["imported"], imported["rejected"]) == (4, 0)
        yield client, ds


def _rows(client: TestClient, ds: str) -> dict[str, dict[str, Any]]:
    page = client.get(f"/api/datasets/{ds}/versions/head/rows", params={"limit": 500}).json()
    return {r["row_id"]: r for r in page["rows"]}


def _sample(client: TestClient, ds: str, row_id: str) -> dict[str, Any]:
    got: dict[str, Any] = client.get(f"/api/datasets/{ds}/rows/{row_id}").json()["row"]["sample"]
    return got


def _generate(client: TestClient, ds: str, **body: Any) -> dict[str, Any]:
    started = client.post(f"/api/datasets/{ds}/generate", json=body)
    assert started.status_code == 202, started.text
    run_jobs(client)
    run: dict[str, Any] = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["job"]["status"] == "done", run["job"]
    return run


def test_answer_fills_rows_without_answers(
    studio: tuple[TestClient, str], server: FakeServer
) -> None:
    client, ds = studio
    run = _generate(client, ds, task="answer",
                    llm={"base_url": server.base_url, "model": "fake-m", "concurrency": 1})  # fmt: skip
    assert run["kind"] == "generate" and "respond" in run["recipe"]
    assert run["endpoints"] == [{"base_url": server.base_url, "model": "fake-m"}]
    c = run["counts"]
    assert (c["read"], c["kept"], c["changed"], c["rejected"], c["failed"]) == (4, 4, 2, 0, 0)
    assert c["by_operator"] == {"respond": 2}
    assert len(server.log) == 2  # only the rows without an answer were sent
    rows = _rows(client, ds)
    job = run["job_id"]
    for rid, question in (("q1", "什么是数据集?"), ("q2", "What is a loss mask?")):
        row = rows[rid]
        assert row["made_by"] == f"respond@{job}"
        assert row["model"] == "fake-m"
        full = client.get(f"/api/datasets/{ds}/rows/{rid}").json()["row"]
        assert question in full["prompt"]  # the prompt that generated the answer
        assert row["first_assistant"] == f"ANSWER: {question}"
        assert (row["src"], row["human_verified"]) == ("qa.jsonl", False)
    for rid in ("h1", "h2"):
        assert rows[rid]["made_by"] == "import" and rows[rid]["model"] is None

    # the review workflow sees the LLM answers as suggestions
    queue = client.post("/api/reviews/queues",
                        json={"dataset_id": ds, "name": "llm", "preset": "llm"}).json()  # fmt: skip
    assert queue["items"] == 2  # the rows the model answered
    shown = client.get(f"/api/reviews/queues/{queue['id']}/next").json()
    assert shown["item"]["row_id"] in ("q1", "q2")
    suggestion = shown["record"]["suggestion"]
    assert suggestion["agent"] == "fake-m" and suggestion["edited"] is False
    assert suggestion["messages"][-1]["content"].startswith("ANSWER: ")


def test_suggest_keeps_the_human_answer_and_the_key_never_comes_back(
    studio: tuple[TestClient, str], server: FakeServer, tmp_path: Path
) -> None:
    client, ds = studio
    saved = client.post("/api/connections", json={
        "name": "fake", "kind": "llm",
        "settings": {"base_url": server.base_url, "model": "fake-m"},
        "secrets": {"api_key": KEY},
    })  # fmt: skip
    assert saved.status_code in (200, 201), saved.text
    assert saved.json()["secret_set"] is True
    conn_id = saved.json()["id"]
    run = _generate(client, ds, task="suggest", llm={"connection": conn_id, "concurrency": 1})
    assert run["endpoints"] == [{"connection": conn_id, "base_url": server.base_url,
                                 "model": "fake-m"}]  # fmt: skip
    # the key went to the server, as the bearer token, and only there
    assert len(server.log) == 4
    assert all(r.headers.get("Authorization") == f"Bearer {KEY}" for r in server.log)
    assert not any(KEY in name or KEY in value for name, value in os.environ.items())

    rows = _rows(client, ds)
    # a person's answer stays the row's answer; the model's is kept beside it
    h1 = _sample(client, ds, "h1")
    assert h1["messages"][-1]["content"] == "2, written by a person."
    assert h1["meta"]["suggestion"]["agent"] == "fake-m"
    assert h1["meta"]["suggestion"]["messages"][-1]["content"] == "ANSWER: 1+1?"
    assert rows["h1"]["model"] == "fake-m" and rows["h1"]["made_by"].startswith("respond@")
    # rows without an answer get the model's answer as the row itself
    assert _sample(client, ds, "q1")["messages"][-1]["content"] == "ANSWER: 什么是数据集?"

    queue = client.post("/api/reviews/queues",
                        json={"dataset_id": ds, "name": "all", "preset": "llm"}).json()  # fmt: skip
    seen: dict[str, Any] = {}
    after = -1
    for _ in range(4):
        shown = client.get(f"/api/reviews/queues/{queue['id']}/next",
                           params={"after": after}).json()  # fmt: skip
        seen[shown["item"]["row_id"]] = shown["record"]["suggestion"]
        after = shown["item"]["position"]
    assert seen["h1"]["edited"] is True  # the human answer is beside the suggestion
    assert seen["h1"]["messages"][-1]["content"] == "ANSWER: 1+1?"

    # the export policy decides which answer wins
    def exported(policy: str) -> dict[str, str]:
        job = client.post(f"/api/datasets/{ds}/exports",
                          json={"format": "sftforge", "policy": policy}).json()  # fmt: skip
        run_jobs(client)
        body = client.get(f"/api/exports/{job['id']}/download").content.decode("utf-8")
        out = {}
        for line in body.splitlines():
            rec = json.loads(line)
            out[rec["messages"][0]["content"]] = rec["messages"][-1]["content"]
        return out

    assert exported("human_first")["1+1?"] == "2, written by a person."
    assert exported("suggestion_first")["1+1?"] == "ANSWER: 1+1?"

    # the key is in no answer, no stored run or job, no file the run left
    answers = [
        client.get("/api/connections").text,
        client.get(f"/api/connections/{conn_id}").text,
        client.get(f"/api/runs/{run['id']}").text,
        client.get(f"/api/datasets/{ds}/runs").text,
        client.get("/api/jobs").text,
        client.get(f"/api/datasets/{ds}/versions/head/rows").text,
    ]
    assert not any(KEY in a for a in answers)
    home = client.app.state.settings.home  # type: ignore[attr-defined]
    for path in (home / "runs").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    db = sqlite3.connect(home / "studio.sqlite3")
    for table in ("runs", "jobs", "versions"):
        assert KEY not in json.dumps(db.execute(f"SELECT * FROM {table}").fetchall())


def test_judge_scores_rows_and_rows_it_cannot_judge_stay(
    studio: tuple[TestClient, str], server: FakeServer
) -> None:
    client, ds = studio
    run = _generate(client, ds, task="judge",
                    llm={"base_url": server.base_url, "model": "judge-m", "concurrency": 1})  # fmt: skip
    c = run["counts"]
    # the two rows without an answer cannot be judged: they stay, unchanged, counted as failed
    assert (c["read"], c["kept"], c["changed"], c["failed"], c["rejected"]) == (4, 2, 2, 2, 0)
    rows = _rows(client, ds)
    assert set(rows) == {"q1", "q2", "h1", "h2"}
    assert rows["h1"]["score"] == 8.0 and rows["h2"]["score"] == 2.0
    assert rows["h1"]["made_by"] == f"judge@{run['job_id']}"
    assert rows["h1"]["model"] is None  # the judge scored the answer; it did not write it
    assert _sample(client, ds, "h1")["meta"]["judge"]["model"] == "judge-m"
    assert rows["q1"]["made_by"] == "import" and rows["q1"]["score"] is None
    rejects = client.get(f"/api/runs/{run['id']}/rejects").json()["rejects"]
    assert {r["row_id"] for r in rejects} == {"q1", "q2"}
    assert all(r["kept_in_version"] and r["reason"].startswith("llm failed") for r in rejects)


def test_a_budget_stop_loses_no_row(studio: tuple[TestClient, str], server: FakeServer) -> None:
    client, ds = studio
    run = _generate(client, ds, task="answer", llm={
        "base_url": server.base_url, "model": "fake-m", "max_tokens_budget": 1,
    })  # fmt: skip
    c = run["counts"]
    # the stop leaves every item not run (the library's rule): all stay, unchanged, as failed
    assert (c["read"], c["kept"], c["failed"], c["rejected"], c["rows"]) == (4, 0, 4, 0, 4)
    assert server.log == []  # refused before sending
    rejects = client.get(f"/api/runs/{run['id']}/rejects").json()["rejects"]
    assert {r["row_id"] for r in rejects} == {"q1", "q2", "h1", "h2"}
    assert all(r["kept_in_version"] and "budget" in r["reason"] for r in rejects), rejects
    assert {r["row_id"]: r["made_by"] for r in _rows(client, ds).values()} == dict.fromkeys(
        ("q1", "q2", "h1", "h2"), "import"
    )
    assert _sample(client, ds, "q1")["messages"] == RECORDS[0]["messages"]


def test_generation_requests_are_checked(client: TestClient) -> None:
    ds = new_dataset(client)
    import_rows(client, ds, "qa.jsonl", RECORDS, require_answer=False)
    # this studio does not reach loopback or link-local addresses (SSRF)
    for url in ("http://127.0.0.1:9/v1", "http://169.254.169.254/v1"):
        answer = client.post(f"/api/datasets/{ds}/generate",
                             json={"task": "answer", "llm": {"base_url": url, "model": "m"}})  # fmt: skip
        assert answer.status_code == 400, answer.text
        err = error_shape(answer.json())
        assert err["code"] == "unsafe_url" and err["field"] == "steps[1].respond.llm.base_url"
    answer = client.post(f"/api/datasets/{ds}/generate", json={"task": "poem", "llm": {}})
    assert answer.status_code == 422 and error_shape(answer.json())["field"] == "task"
    answer = client.post(f"/api/datasets/{ds}/generate",
                         json={"task": "answer", "llm": {"api_key": "sk-x"}})  # fmt: skip
    assert answer.status_code == 422 and error_shape(answer.json())["field"] == "llm.api_key"
    answer = client.post(f"/api/datasets/{ds}/generate", json={"task": "answer", "llm": {}})
    err = error_shape(answer.json())
    assert answer.status_code == 400 and err["field"] == "steps[1].respond.llm.base_url"
    answer = client.post(f"/api/datasets/{ds}/generate",
                         json={"task": "judge", "llm": {"base_url": "https://x.test/v1"}})  # fmt: skip
    err = error_shape(answer.json())
    assert answer.status_code == 400 and err["field"] == "steps[1].judge.llm.model"
    answer = client.post(f"/api/datasets/{ds}/generate",
                         json={"task": "answer", "llm": {"connection": "c_nope"}})  # fmt: skip
    assert answer.status_code == 404 and error_shape(answer.json())["code"] == "not_found"
    assert client.get(f"/api/datasets/{ds}/runs").json()["runs"] == []


def test_roles_and_csrf_on_runs(tmp_path: Path, server: FakeServer) -> None:
    auth = pytest.importorskip("sftforge.studio.auth")
    settings = StudioSettings(home=tmp_path / "home", host="0.0.0.0", token="tok-Runs-8812",
                              open_browser=False, allow_private_urls=True)  # fmt: skip
    app = create_app(settings, run_jobs=False)
    auth.create_user(app.state.store, "ann", "pw-Runs-Otter-5", "annotator")
    auth.create_user(app.state.store, "adm", "pw-Runs-Otter-5", "admin")

    def login(name: str) -> tuple[TestClient, dict[str, str]]:
        c = TestClient(app, raise_server_exceptions=False)
        r = c.post("/api/auth/login", json={"username": name, "password": "pw-Runs-Otter-5"})
        assert r.status_code == 200, r.text
        return c, {"X-CSRF-Token": r.json()["csrf_token"]}

    adm, ah = login("adm")
    project = adm.post("/api/projects", json={"name": "p"}, headers=ah).json()
    ds = adm.post(f"/api/projects/{project['id']}/datasets", json={"name": "d"}, headers=ah).json()
    staged = stage(adm, "qa.jsonl", RECORDS)
    assert adm.post(f"/api/datasets/{ds['id']}/imports", json={"staged": staged, "require_answer": False},
                    headers=ah).status_code == 202  # fmt: skip
    run_jobs(adm)
    ann, nh = login("ann")
    url = f"/api/datasets/{ds['id']}/generate"
    with_env = {"task": "answer",
                "llm": {"base_url": server.base_url, "model": "m", "api_key_env": "HOME"}}  # fmt: skip
    # naming a variable of the server's environment: admins only
    refused = ann.post(url, json=with_env, headers=nh)
    assert refused.status_code == 403, refused.text
    assert error_shape(refused.json())["code"] == "forbidden"
    assert adm.post(url, json=with_env, headers=ah).status_code == 202
    # an annotator may run recipes and generation through an endpoint without a variable
    plain = {"task": "answer", "llm": {"base_url": server.base_url, "model": "m"}}
    assert ann.post(url, json=plain, headers=nh).status_code == 202
    # without the CSRF header a session's POST is refused
    forged = ann.post(f"/api/datasets/{ds['id']}/runs", json={"recipe": "steps: [dedup_exact]"})
    assert forged.status_code == 403 and error_shape(forged.json())["code"] == "csrf"


def test_rows_an_llm_step_adds_are_new_rows_with_their_lineage(
    studio: tuple[TestClient, str], server: FakeServer
) -> None:
    """A recipe (as text) whose LLM step adds samples: respond with two candidates per row. The
    first candidate changes its row; the second is a new row whose lineage names the run, the
    operator, the model and the prompt."""
    client, ds = studio
    recipe = (
        "steps:\n"
        "  - respond:\n"
        "      mode: missing\n"
        "      n: 2\n"
        f"      llm: {{base_url: '{server.base_url}', model: cand-m, concurrency: 1}}\n"
    )
    started = client.post(f"/api/datasets/{ds}/runs", json={"recipe": recipe})
    assert started.status_code == 202, started.text
    run_jobs(client)
    run = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["status"] == "done", run
    c = run["counts"]
    assert (c["read"], c["kept"], c["changed"], c["added"], c["rows"]) == (4, 4, 2, 2, 6)
    rows = _rows(client, ds)
    job = run["job_id"]
    added = {rid: r for rid, r in rows.items() if r["src"] == f"run {job}"}
    assert set(added) == {"q1-c1", "q2-c1"}
    for rid, row in added.items():
        assert row["made_by"] == f"respond@{job}" and row["model"] == "cand-m"
        assert isinstance(row["src_line"], int) and row["src_line"] >= 1
        full = client.get(f"/api/datasets/{ds}/rows/{rid}").json()["row"]
        assert full["prompt"] and "meta" in full["sample"]
        # the pipeline's bookkeeping is not stored: a later run would count the row again
        assert not {"extra", "source", "row"} & set(full["sample"]["meta"])
    assert rows["q1"]["made_by"] == f"respond@{job}" and rows["q1"]["model"] == "cand-m"
    # a second run over the new version works (nothing of the first run's marks is left)
    again = client.post(f"/api/datasets/{ds}/runs", json={"recipe": "steps: [dedup_exact]"})
    assert again.status_code == 202
    run_jobs(client)
    second = client.get(f"/api/runs/{again.json()['id']}").json()
    assert second["status"] == "done", second
    assert second["counts"]["read"] == 6


def _alpaca(rec: dict[str, Any]) -> dict[str, str]:
    turns = {m["role"]: m["content"] for m in rec["messages"]}
    return {"instruction": turns["user"], "input": "", "output": turns.get("assistant", "")}


@pytest.mark.parametrize("shape", ["ids", "no ids", "alpaca"])
def test_prompts_without_answers_come_in_through_a_source(tmp_path: Path, shape: str) -> None:
    """The import page's "keep prompts" box: /api/sources/import with require_answer false keeps
    the questions; without it they are rejected with the reader's reason (read = imported +
    rejected either way). Rows without an ``id`` too (OpenAI-shaped: before, they were read as
    OpenAI records, which refuse a conversation without an answer, box or not), and Alpaca rows
    with an empty ``output`` (before, refused by the Alpaca format, box or not)."""
    root = tmp_path / "data"
    root.mkdir()
    rows: list[Any] = RECORDS
    if shape == "no ids":
        rows = [{k: v for k, v in r.items() if k != "id"} for r in RECORDS]
    elif shape == "alpaca":
        rows = [_alpaca(r) for r in RECORDS]
    (root / "qa.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    settings = StudioSettings(home=tmp_path / "home", data_root=root, open_browser=False)
    app = create_app(settings, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        for keep, imported, rejected in ((False, 2, 2), (True, 4, 0)):
            started = client.post("/api/sources/import", json={
                "dataset_id": ds, "kind": "server_path", "path": "qa.jsonl",
                "require_answer": not keep,
            })  # fmt: skip
            assert started.status_code == 202, started.text
            run_jobs(client)
            imp = client.get(f"/api/imports/{started.json()['id']}").json()
            assert (imp["read"], imp["imported"], imp["rejected"]) == (4, imported, rejected)
