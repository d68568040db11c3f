"""Browser checks of the studio's hardening (issue 13): a row opened from an older version is that
version's row, shown read-only; the dataset page follows the jobs that diff large versions and
build queues over them; an edit made from a double-review queue stays the reviewer's draft."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from browser_support import StudioServer, need_browser

from sftforge.studio import diff, reviews


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    """A studio of these tests' own (the session's is shared with the user-story tests, which
    expect their project to be the only one)."""
    need_browser()
    server = StudioServer(tmp_path_factory.mktemp("harden-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, studio: StudioServer) -> Iterator[Any]:
    context = browser.new_context(base_url=studio.base_url, locale="en-US",
                                  viewport={"width": 1280, "height": 860})  # fmt: skip
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def _import(
    api: httpx.Client, studio: StudioServer, dataset_id: str, name: str, rows: list[Any]
) -> None:
    """Stage ``rows`` as a JSONL file and import it through the API; waits for the job."""
    path = studio.settings.folder("staging") / name
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    started = api.post(f"/api/datasets/{dataset_id}/imports", json={"staged": name})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while (got := api.get(f"/api/imports/{started.json()['id']}").json())["status"] != "done":
        assert got["status"] != "failed" and time.monotonic() < deadline, got
        time.sleep(0.05)


def _two_versions(api: httpx.Client, studio: StudioServer, name: str) -> tuple[str, str]:
    """A dataset of 5 rows, then a version with row v.jsonl:2 edited: (dataset, first version).
    ``name`` goes into the rows: versions are content-addressed, so each test's are its own."""
    project = api.post("/api/projects", json={"name": "versions"}).json()
    ds = api.post(f"/api/projects/{project['id']}/datasets", json={"name": name}).json()["id"]
    rows = [{"instruction": f"第{i}个问题 {name}", "output": f"原来的回答 {i}"} for i in range(5)]
    _import(api, studio, ds, "v.jsonl", rows)
    first = api.get(f"/api/datasets/{ds}").json()["head_version"]
    shown = api.get(f"/api/datasets/{ds}/rows/v.jsonl:2").json()
    sample = shown["row"]["sample"]
    sample["messages"][-1]["content"] = "新的回答"
    assert api.put(f"/api/datasets/{ds}/rows/v.jsonl:2",
                   json={"sample": sample, "base_revision": shown["revision"]}).status_code == 200  # fmt: skip
    assert api.post(f"/api/datasets/{ds}/commit", json={}).status_code == 201
    return ds, first


def test_a_row_of_an_older_version_is_shown_read_only(page: Any, studio: StudioServer) -> None:
    expect = _expect()
    api = httpx.Client(base_url=studio.base_url, timeout=30)
    ds, first = _two_versions(api, studio, "read-only")

    # the user's path: the browse page on the older version, then the row
    page.goto(f"/datasets/{ds}/browse?version={first}")
    page.wait_for_selector("body[data-ready='1']")
    page.locator("[data-testid=row][data-row-id='v.jsonl:2']").click()
    page.wait_for_selector("body[data-ready='1']")
    view = page.locator("[data-testid=record-view]")
    expect(view).to_contain_text("原来的回答 1")
    expect(view).not_to_contain_text("新的回答")
    expect(page.locator("[data-testid=read-only]")).to_be_visible()
    expect(page.locator("[data-testid=read-only]")).to_contain_text(first)
    for action in ("accept", "reject", "edit", "undo", "verify"):
        expect(page.locator(f"[data-testid={action}]")).to_be_hidden()
    expect(page.locator("[data-testid=labels-form]")).to_be_hidden()
    # the keys change nothing either
    page.keyboard.press("a")
    page.keyboard.press("e")
    expect(page.locator("[data-testid=editor]")).to_be_hidden()
    assert api.get(f"/api/datasets/{ds}/edits").json()["edits"] == []

    # the head's row: edited, editable
    page.click("[data-testid=open-head]")
    page.wait_for_selector("body[data-ready='1']")
    expect(view).to_contain_text("新的回答")
    expect(page.locator("[data-testid=read-only]")).to_be_hidden()
    expect(page.locator("[data-testid=accept]")).to_be_visible()
    page.keyboard.press("a")
    expect(page.locator("[data-testid=status-badge]")).to_have_attribute("data-status", "accepted")
    api.close()


def test_the_dataset_page_follows_diff_and_queue_jobs(
    page: Any, studio: StudioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect = _expect()
    api = httpx.Client(base_url=studio.base_url, timeout=30)
    ds, _first = _two_versions(api, studio, "jobs")
    # the server runs in this process: its versions of 5 rows count as large here
    monkeypatch.setattr(diff, "DIFF_INLINE_ROWS", 1)
    monkeypatch.setattr(reviews, "QUEUE_INLINE_ROWS", 1)
    page.goto(f"/datasets/{ds}")
    page.wait_for_selector("body[data-ready='1']")
    page.click("[data-testid=diff-run]")
    expect(page.locator("[data-testid=diff-summary]")).to_have_text("0 added, 0 removed, 1 changed")
    expect(page.locator("[data-testid=diff-changed-row]")).to_have_attribute(
        "data-row-id", "v.jsonl:2"
    )
    jobs = api.get("/api/jobs").json()["jobs"]
    assert [
        j["status"] for j in jobs if j["kind"] == "diff" and j["params"]["dataset_id"] == ds
    ] == ["done"]

    page.fill("[data-testid=queue-name-input]", "大的队列")
    page.click("[data-testid=queue-create]")
    page.wait_for_url("**/queues/*")
    queue_id = page.url.rsplit("/", 1)[-1]
    built = [j for j in api.get("/api/jobs").json()["jobs"] if j["kind"] == "review_queue"]
    assert built and built[0]["status"] == "done" and built[0]["result"]["id"] == queue_id
    assert api.get(f"/api/reviews/queues/{queue_id}").json()["items"] == 5
    api.close()


def test_an_edit_from_a_double_review_queue_stays_in_the_queue(
    page: Any, studio: StudioServer
) -> None:
    expect = _expect()
    api = httpx.Client(base_url=studio.base_url, timeout=30)
    ds, _first = _two_versions(api, studio, "blind")
    made = api.post("/api/reviews/queues", json={"dataset_id": ds, "name": "双人",
                                                 "reviewers": ["local", "bo"], "per_item": 2})  # fmt: skip
    assert made.status_code == 201, made.text
    queue_id = made.json()["id"]
    page.goto(f"/datasets/{ds}/rows/v.jsonl:2?queue={queue_id}&edit=1")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=read-only]")).to_contain_text("Double review")
    for action in ("accept", "reject", "verify", "undo"):
        expect(page.locator(f"[data-testid={action}]")).to_be_hidden()
    expect(page.locator("[data-testid=editor]")).to_be_visible()
    page.locator("[data-testid=turn-content-input]").nth(1).fill("我的草稿 draft")
    page.click("[data-testid=editor-save]")
    view = page.locator("[data-testid=record-view]")
    expect(view).to_contain_text("我的草稿 draft")
    # the row and its history are untouched; the draft is the reviewer's item in the queue
    row = api.get(f"/api/datasets/{ds}/rows/v.jsonl:2").json()
    assert row["row"]["sample"]["messages"][-1]["content"] == "新的回答"
    assert api.get(f"/api/datasets/{ds}/edits").json()["edits"] == []
    mine = api.get(f"/api/reviews/queues/{queue_id}/items/v.jsonl:2").json()
    assert mine["item"]["edited"] is True
    assert mine["record"]["row"]["sample"]["messages"][-1]["content"] == "我的草稿 draft"
    page.keyboard.press("a")  # verdicts are made in the queue, not here
    assert api.get(f"/api/reviews/queues/{queue_id}/items/v.jsonl:2").json()["item"]["status"] == (
        "pending"
    )
    page.click("[data-testid=open-head]")
    page.wait_for_url(f"**/queues/{queue_id}")
    api.close()
