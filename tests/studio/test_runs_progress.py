"""A studio run's progress while it runs: the job's ``detail`` holds each stage's records done
of its total and, for an LLM step, the calls, failures, tokens and budget, updated as the step
goes (read back from the API's job object mid-run); it is the owner's (and admins') only."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.studio import jobs
from sftforge.studio.app import create_app
from sftforge.studio.run_progress import RunProgress
from sftforge.studio.settings import StudioSettings

QUESTIONS = ["什么是数据集?", "What is a loss mask?", "doomed question", "第四个问题", "fifth"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.add("doomed", Reply(status=400, raw="no"))
    srv.start()
    yield srv
    srv.stop()


def test_the_job_shows_the_llm_step_while_it_runs(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = StudioSettings(home=tmp_path / "home", open_browser=False, allow_private_urls=True)
    monkeypatch.setattr(RunProgress, "every", 0.0)  # a report at every step, not every 0.5 s
    seen: list[dict[str, Any]] = []  # the job as the API shows it, after each report
    original = jobs.JobContext.progress

    def spy(self: jobs.JobContext, fraction: float, message: str = "", detail: Any = None) -> None:
        original(self, fraction, message, detail)
        seen.append(client.get(f"/api/jobs/{self.job_id}").json())

    monkeypatch.setattr(jobs.JobContext, "progress", spy)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        ds = new_dataset(client)
        rows = [
            {"id": f"q{i}", "messages": [{"role": "user", "content": q}]}
            for i, q in enumerate(QUESTIONS)
        ]
        imported = import_rows(client, ds, "q.jsonl", rows, require_answer=False)
        assert imported["imported"] == 5, (imported["error"], imported["status"])
        seen.clear()
        llm = {"base_url": server.base_url, "model": "fake-m", "concurrency": 1,
               "max_tokens_budget": 50_000}  # fmt: skip
        started = client.post(f"/api/datasets/{ds}/generate", json={"task": "answer", "llm": llm})
        assert started.status_code == 202, started.text
        run_jobs(client)
        run = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["job"]["status"] == "done" and run["counts"]["failed"] == 1

    def respond(job: dict[str, Any]) -> dict[str, Any] | None:
        found = [s for s in (job["detail"] or {}).get("stages", []) if s["label"] == "respond"]
        return found[-1] if found else None

    during = [(job, s) for job in seen if (s := respond(job)) and s["state"] == "running"]
    done = [s["done"] for _, s in during]
    assert done == sorted(done) and set(done) == {0, 1, 2, 3, 4, 5}, done  # item by item
    calls = [s["llm"]["calls"] for _, s in during]
    assert calls == sorted(calls) and calls[-1] == 5
    for job, s in during:
        assert job["status"] == "running" and s["total"] == 5
        assert s["llm"]["budget"]["max_tokens"] == 50_000
        assert s["llm"]["tokens"] == 15 * (s["done"] - s.get("items_failed", 0))
        # the one-line message says the same (English numbers; the page translates the words)
        assert job["message"].startswith(f"respond: {s['done']} of 5 items, ")
    assert any(s.get("items_failed") == 1 for _, s in during)
    fractions = [job["progress"] for job in seen]
    assert fractions == sorted(fractions)
    # the job's fraction follows the step's items: stage 2 of 2 (reading the input is the
    # first), 3 of its 5 items done, is 0.05 + 0.85 * (1 + 3 / 5) / 2 of the job
    assert {round(job["progress"], 3) for job, s in during if s["done"] == 3} == {0.73}
    # the finished job keeps the step's last numbers
    final = respond(run["job"])
    assert final is not None and final["state"] == "done"
    assert (final["done"], final["total"], final["items_failed"]) == (5, 5, 1)
    assert (final["llm"]["calls"], final["llm"]["calls_failed"], final["llm"]["tokens"]) == (
        5, 1, 60)  # fmt: skip
    assert final["llm"]["budget"]["spent_tokens"] == 60
    assert len(server.log) == 5

    # docs/studio.md shows the detail with the same keys a run gives
    doc = (Path(__file__).resolve().parents[2] / "docs" / "studio.md").read_text("utf-8")
    section = doc[doc.index("### Progress of a run") : doc.index("### From Python")]
    shown = json.loads(re.findall(r"```json\n(.*?)```", section, re.S)[0])
    detail = run["job"]["detail"]
    assert set(shown) == set(detail)
    by_label = {s["label"]: s for s in detail["stages"]}
    for stage in shown["stages"]:
        real = by_label[stage["label"]]
        assert set(stage) == set(real), stage["label"]
        if "llm" in stage:
            assert set(stage["llm"]) == set(real["llm"])
            assert set(stage["llm"]["budget"]) == set(real["llm"]["budget"])


auth = pytest.importorskip("sftforge.studio.auth")
PASSWORD = "pw-Progress-Heron-4"


def test_the_detail_is_the_owners_and_admins_only(tmp_path: Path) -> None:
    app = create_app(StudioSettings(home=tmp_path / "home", host="0.0.0.0", token="t-Prog-1",
                                    open_browser=False), run_jobs=False)  # fmt: skip
    for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("adm", "admin")):
        auth.create_user(app.state.store, name, PASSWORD, role)
    clients = {}
    for name in ("ann", "rev", "adm"):
        c = TestClient(app, raise_server_exceptions=False)
        answer = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        c.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        clients[name] = c
    ann = clients["ann"]
    ds = new_dataset(clients["adm"])
    rows = [
        {"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]}
    ]
    assert import_rows(ann, ds, "q.jsonl", rows)["imported"] == 1
    started = ann.post(f"/api/datasets/{ds}/runs", json={"recipe": "steps:\n  - clean_html: {}\n"})
    assert started.status_code == 202, started.text
    run_jobs(ann)
    run_id, job_id = started.json()["id"], started.json()["job_id"]
    for name, sees in (("ann", True), ("adm", True), ("rev", False)):
        for job in (clients[name].get(f"/api/jobs/{job_id}").json(),
                    clients[name].get(f"/api/runs/{run_id}").json()["job"]):  # fmt: skip
            assert job["status"] == "done" and job["progress"] == 1
            if sees:
                assert job["detail"]["stages"][0]["label"] == "stage 1/1 (clean_html)", name
                assert job["detail"]["stages"][0]["done"] == 1
            else:
                assert (job["detail"], job["message"], job["params"]) == (None, "", None), job
