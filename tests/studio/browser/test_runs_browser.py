"""The runs page in Chromium: a recipe with a cleaner, a filter and a dedup run on a dataset
makes a new version (counts shown, the rejected rows listed and downloadable); a bad recipe
shows the CLI's one line in the page; an LLM endpoint saved as a connection in the page (its key
typed once, never shown again) judges the rows through the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import StudioServer, screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "llm"))

from fakeserver import FakeServer, Reply

KEY = "sk-browser-Heron-3310-secret"

RECORDS = [
    {"id": f"r{i}", "messages": [{"role": "user", "content": f"第 {i} 个问题：什么是<b>数据</b>？"},
                                 {"role": "assistant", "content": f"数据是第 {i} 个回答。"}]}
    for i in range(6)
] + [
    {"id": "dup", "messages": [{"role": "user", "content": "第 0 个问题：什么是<b>数据</b>？"},
                               {"role": "assistant", "content": "数据是第 0 个回答。"}]},
    {"id": "short", "messages": [{"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "x"}]},
]  # fmt: skip

RECIPE = """steps:
  - clean_html: {}
  - length_filter: {targets: assistant, min: 2}
  - dedup_exact: {}
"""


def _judge(body: dict[str, Any]) -> Reply:
    # a little slow, so the page shows the step while it runs
    return Reply(json.dumps({"harmlessness": 9, "honesty": 8, "helpfulness": 8, "overall": 8,
                             "rationale": "清楚"}), delay=0.25)  # fmt: skip


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = _judge
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def own_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    """A studio of this module's own (its projects stay out of the session's shared one) that
    may reach the fake LLM server on loopback."""
    server = StudioServer(tmp_path_factory.mktemp("runs-home"))
    server.settings.allow_private_urls = True
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def runs_page(browser: Any, own_studio: StudioServer) -> Iterator[Any]:
    context = browser.new_context(base_url=own_studio.base_url, locale="en-US",
                                  viewport={"width": 1280, "height": 860}, accept_downloads=True)  # fmt: skip
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def _dataset(page: Any, studio: StudioServer) -> str:
    """A dataset with RECORDS imported through the API (the job runs in the server)."""
    project = page.request.post("/api/projects", data={"name": "runs"}).json()
    dataset = page.request.post(f"/api/projects/{project['id']}/datasets",
                                data={"name": "运行"}).json()  # fmt: skip
    staged = studio.settings.folder("staging") / "runs.jsonl"
    staged.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n",
                      encoding="utf-8")  # fmt: skip
    started = page.request.post(f"/api/datasets/{dataset['id']}/imports",
                                data={"staged": "runs.jsonl"}).json()  # fmt: skip
    deadline = time.monotonic() + 30
    while page.request.get(f"/api/jobs/{started['job_id']}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)
    return str(dataset["id"])


def test_run_a_recipe_in_the_page(
    runs_page: Any, own_studio: StudioServer, llm_server: FakeServer
) -> None:
    from playwright.sync_api import expect

    page = runs_page
    dataset_id = _dataset(page, own_studio)
    page.goto(f"/datasets/{dataset_id}/runs")
    page.wait_for_selector("body[data-ready='1']")

    # a mistake: the CLI's line, naming the field, in the page
    page.fill("[data-testid=recipe-text]", "steps:\n  - length_filter: {min_chars: 3}\n")
    page.click("[data-testid=recipe-run]")
    expect(page.locator("[data-testid=error-message]")).to_contain_text(
        "recipe.yaml, field 'steps[1].length_filter'"
    )
    expect(page.locator("[data-testid=error-hint]")).to_contain_text("valid options")

    page.fill("[data-testid=recipe-text]", RECIPE)
    page.click("[data-testid=recipe-run]")
    expect(page.locator("[data-testid=run-summary]")).to_contain_text("Read 8")
    row = page.locator("[data-testid=run-row]").first
    expect(row).to_have_attribute("data-status", "done")
    expect(row.locator("[data-testid=run-kept]")).to_have_text("6")
    expect(row.locator("[data-testid=run-changed]")).to_have_text("6")
    expect(row.locator("[data-testid=run-rejected]")).to_have_text("2")
    rejects = page.locator("[data-testid=run-reject-row]")
    expect(rejects).to_have_count(2)
    # in pipeline order: the filter's stage, then the dedup's
    expect(rejects.nth(0)).to_contain_text("short")
    expect(rejects.nth(0)).to_contain_text("length_filter")
    expect(rejects.nth(1)).to_contain_text("dup")
    expect(rejects.nth(1)).to_contain_text("dedup_exact")
    screenshot(page, "runs")
    with page.expect_download() as info:
        row.locator("[data-testid=run-download-rejects]").click()
    saved = [json.loads(x) for x in Path(info.value.path()).read_text("utf-8").splitlines()]
    assert [r["row_id"] for r in saved] == ["short", "dup"]

    # the new version is the head, its rows cleaned and attributed to the operator
    head = page.request.get(f"/api/datasets/{dataset_id}/versions/head/rows").json()
    assert head["total"] == 6
    assert all(r["made_by"].startswith("clean_html@") for r in head["rows"])
    assert "<b>" not in head["rows"][0]["first_user"]

    # an LLM endpoint saved as a connection in the page, then a judge run through it
    page.click("[data-testid=connection-details] summary")
    page.fill("[data-testid=conn-name]", "评审模型")
    page.fill("[data-testid=conn-base-url]", llm_server.base_url)
    page.fill("[data-testid=conn-model]", "judge-m")
    page.fill("[data-testid=conn-key]", KEY)
    page.click("[data-testid=conn-save]")
    expect(page.locator("[data-testid=conn-key]")).to_have_value("")
    expect(page.locator("[data-testid=gen-endpoint]")).to_be_hidden()
    page.select_option("[data-testid=gen-task]", "judge")
    page.fill("[data-testid=gen-concurrency]", "1")
    page.click("[data-testid=gen-run]")
    # while it runs: the step's rows done of 6 and its calls, by stage (the pipeline's report)
    step = page.locator("[data-testid=run-stage][data-label=judge]")
    expect(step).to_have_attribute("data-state", "running")
    expect(step.locator("[data-testid=run-stage-done]")).to_contain_text(" of 6 items")
    expect(step.locator("[data-testid=run-stage-llm]")).to_contain_text("calls")
    expect(page.locator("[data-testid=run-summary]")).to_contain_text("kept 6 (changed 6)")
    expect(step).to_have_attribute("data-state", "done")
    expect(step.locator("[data-testid=run-stage-done]")).to_have_text("6 of 6 items")
    expect(step.locator("[data-testid=run-stage-llm]")).to_contain_text("6 calls · 90 tokens")
    first = page.locator("[data-testid=run-stage]").first  # reading the input: 6 rows
    expect(first.locator("[data-testid=run-stage-done]")).to_have_text("6 of 6 records")
    # the library's "stage 1/N (...)" said in the page's words (runs.stage_label)
    expect(first.locator("[data-testid=run-stage-label]")).to_have_text(
        re.compile(r"^Stage 1/\d+ \(.+\)$")
    )
    screenshot(page, "runs-generation")
    newest = page.locator("[data-testid=run-row]").first
    expect(newest.locator("td").first).to_have_text("generation")
    assert len(llm_server.log) == 6
    assert all(r.headers.get("Authorization") == f"Bearer {KEY}" for r in llm_server.log)
    assert KEY not in page.content()
    head = page.request.get(f"/api/datasets/{dataset_id}/versions/head/rows").json()
    assert {r["score"] for r in head["rows"]} == {8.0}
