"""Rows added by LLM generation steps in studio runs (evol_instruct, paraphrase, self_instruct)
against the fake OpenAI-compatible server on loopback: the new version holds them as new rows
with their lineage (``src = "run <job id>"``, ``made_by = <operator>@<job id>``, the model and
the prompt), the input rows are unchanged byte for byte, read = kept + rejected + failed, a row
the step's calls failed for is among the run's rejects (kept in the version), the diff of the
two versions lists the new rows as added, and the job's progress shows the LLM step's calls,
tokens and budget."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings

RECORDS = [
    {"id": "poem", "messages": [{"role": "user", "content": "Write a short poem about the sea"},
                                {"role": "assistant", "content": "The sea is wide."}]},
    {"id": "cn", "messages": [{"role": "user", "content": "解释一下什么是损失掩码"},
                              {"role": "assistant", "content": "损失掩码决定哪些词元参与训练。"}]},
    {"id": "same", "messages": [{"role": "user", "content": "IDENTICAL words here"},
                                {"role": "assistant", "content": "x y z"}]},
    {"id": "doomed", "messages": [{"role": "user", "content": "doomed question to rewrite"},
                                  {"role": "assistant", "content": "an answer"}]},
]  # fmt: skip
SEEDS = [{"instruction": "Give three tips for staying healthy.", "instances": []}]
MODEL = "fake-gen"


def _scripted(body: dict[str, Any]) -> Reply:
    """A deterministic stand-in model for the prompts of the three steps."""
    text = "\n".join(str(m["content"]) for m in body["messages"])
    last = str(body["messages"][-1]["content"])
    if "doomed" in text:
        return Reply(status=400, raw="no")
    if "diverse task instructions" in text:
        start = int(re.search(r"numbered from (\d+)", text).group(1))  # type: ignore[union-attr]
        return Reply(f"{start}. Write a haiku about autumn leaves falling slowly\n"
                     f"{start + 1}. Summarise a news story about rivers in two sentences")  # fmt: skip
    if "regarded as a classification task" in text:
        return Reply(json.dumps({"classification": False}))
    if "Come up with one example" in text:
        return Reply(json.dumps({"input": "", "output": "Leaves drift down, gold."}))
    if "Are they equal" in text or "它们是否相同" in text:
        return Reply(json.dumps({"equal": False}))
    for marker in ("The given prompt:", "给定的提示："):  # evol_instruct, English and Chinese
        if marker in text:
            return Reply(f"{text.rsplit(marker, 1)[1].strip()} Also explain why.")
    for marker in ("[Instruction]", "[指令]"):  # paraphrase
        if marker in text:
            src = text.split(marker, 1)[1].strip()
            if "IDENTICAL" in src:  # too close to the original: the rule drops it
                return Reply(src)
            return Reply(f"请你简单地说明{src}" if marker == "[指令]" else f"{src} please, kindly")
    return Reply(f"ANSWER: {last}")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = _scripted
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    root = tmp_path / "data"
    root.mkdir()
    (root / "seed_tasks.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in SEEDS), encoding="utf-8"
    )
    settings = StudioSettings(home=tmp_path / "home", data_root=root, open_browser=False,
                              allow_private_urls=True)  # fmt: skip
    with TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        assert import_rows(client, ds, "qa.jsonl", RECORDS)["imported"] == len(RECORDS)
        yield client, ds


def _version_rows(client: TestClient, version_id: str) -> dict[str, dict[str, Any]]:
    """Every row of a version, all columns, straight from its Parquet file."""
    store = client.app.state.store  # type: ignore[attr-defined]
    table = pq.read_table(store.version(version_id)["path"])
    return {r["row_id"]: r for r in table.to_pylist()}


def _run(client: TestClient, ds: str, step: str, options: dict[str, Any], server: FakeServer,
         budget: int | None = None) -> dict[str, Any]:  # fmt: skip
    llm: dict[str, Any] = {"base_url": server.base_url, "model": MODEL, "concurrency": 1}
    if budget is not None:
        llm["max_tokens_budget"] = budget
    recipe = yaml.safe_dump({"steps": [{step: {**options, "llm": llm}}]}, sort_keys=False)
    started = client.post(f"/api/datasets/{ds}/runs", json={"recipe": recipe})
    assert started.status_code == 202, started.text
    run_jobs(client)
    run: dict[str, Any] = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["job"]["status"] == "done", run["job"]
    return run


CASES = {
    # step, options, the added rows' first user turns, items the step's calls failed for
    "evol_instruct": ({"rounds": 1, "methods": ["deepen"]}, [
        "Write a short poem about the sea Also explain why.",
        "解释一下什么是损失掩码 Also explain why.",
        "IDENTICAL words here Also explain why.",
    ], 1),
    "paraphrase": ({}, ["Write a short poem about the sea please, kindly",
                        "请你简单地说明解释一下什么是损失掩码"], 1),
    "self_instruct": ({"seeds": "seed_tasks.jsonl", "num_instructions": 2}, [
        "Write a haiku about autumn leaves falling slowly",
        "Summarise a news story about rivers in two sentences",
    ], 0),
}  # fmt: skip


@pytest.mark.parametrize("step", sorted(CASES))
def test_rows_added_by_a_generation_step_are_new_rows_with_lineage(
    studio: tuple[TestClient, str], server: FakeServer, step: str
) -> None:
    client, ds = studio
    options, added_prompts, not_generated = CASES[step]
    base = client.get(f"/api/datasets/{ds}").json()["head_version"]
    old = _version_rows(client, base)
    run = _run(client, ds, step, options, server, budget=100_000)
    job = run["job_id"]
    c = run["counts"]
    assert c["read"] == len(RECORDS) == c["kept"] + c["rejected"] + c["failed"], c
    assert (c["changed"], c["rejected"]) == (0, 0), c  # the originals pass through
    assert c["added"] == len(added_prompts), c
    assert c["by_operator"] == {step: len(added_prompts)}, c
    assert c["rows"] == len(RECORDS) + len(added_prompts)
    # the row whose calls failed (evol_instruct, paraphrase) passed through unchanged; the
    # failure is among the run's rejects, with the row's id, as the studio promises
    assert c["not_generated"] == not_generated, c
    rejects = client.get(f"/api/runs/{run['id']}/rejects").json()["rejects"]
    failed = [r for r in rejects if r["reason"].startswith("llm failed: ")]
    assert [(r["op"], r["row_id"], r["kept_in_version"]) for r in failed] == [
        (step, "doomed", True)
    ] * not_generated
    assert all("HTTP 400" in r["reason"] for r in failed)
    assert run["has_rejects"] is bool(rejects)

    new = _version_rows(client, run["version_id"])
    # every input row is in the new version exactly as it was: sample, lineage, review state
    for row_id, row in old.items():
        assert new[row_id] == row, row_id
    added = [r for rid, r in new.items() if rid not in old]
    assert sorted(json.loads(r["sample"])["messages"][0]["content"] for r in added) == sorted(
        added_prompts
    )
    for row in added:
        assert row["src"] == f"run {job}"
        assert row["made_by"] == f"{step}@{job}"
        assert row["model"] == MODEL
        assert row["prompt"], row  # the prompt of the call that made it
        assert (row["status"], row["human_verified"], row["edited_by"]) == ("", False, None)
    lines = sorted(r["src_line"] for r in added)
    assert len(set(lines)) == len(lines) and lines[0] > 0  # its own line in the run's output
    # the prompt recorded (the call's messages, as JSON) is one the server was really sent
    sent = [r.body["messages"] for r in server.log]
    for row in added:
        assert json.loads(row["prompt"]) in sent, row["prompt"]

    # the diff of the two versions: the new rows added, nothing removed or changed
    diff = client.get(f"/api/datasets/{ds}/diff", params={"a": base, "b": "head"}).json()
    assert (diff["added"], diff["removed"], diff["changed"]) == (len(added_prompts), 0, 0), diff
    assert {e["row_id"] for e in diff["entries"]} == {r["row_id"] for r in added}
    one = client.get(f"/api/datasets/{ds}/diff/row",
                     params={"a": base, "row_id": added[0]["row_id"]}).json()  # fmt: skip
    assert one["change"] == "added"

    # the progress the job showed: the LLM step's items and calls, tokens against the budget
    stages = run["job"]["detail"]["stages"]
    llm = [s for s in stages if "llm" in s]
    assert llm and all(s["state"] == "done" for s in llm), stages
    calls = sum(s["llm"]["calls"] for s in llm)
    assert calls == len(server.log)
    # the fake server counts 15 tokens an answer; the doomed row's calls got an error instead
    answered = sum(1 for r in server.log if "doomed" not in r.text)
    assert sum(s["llm"]["tokens"] for s in llm) == 15 * answered
    budget = llm[-1]["llm"]["budget"]  # the step's budget, and all it spent
    assert (budget["max_tokens"], budget["spent_tokens"]) == (100_000, 15 * answered)
    assert all(s["done"] == s["total"] for s in llm)
