"""The studio's user stories in a real browser (issue 13, "Done when"): Chromium driven by
Playwright against the real app on a loopback port.

The module's workspace fixture makes a project and a dataset in the pages and imports, through the
import page (file picker -> resumable upload -> import job), a 52k-row Alpaca JSON and a GBK CSV
with Chinese headers (its columns mapped in the form). The tests then find a row by a Chinese
substring, edit a turn, add and reorder turns, reject a row, mark one verified, undo a change,
commit the edits, diff the two versions and export for LLaMA-Factory, comparing the exported rows
with what the edits should give. Screenshots of the main pages go to docs/studio/.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    GBK_ROWS,
    NEEDLE_INDEX,
    NEEDLE_PHRASE,
    StudioServer,
    screenshot,
    write_alpaca_json,
    write_gbk_csv,
)

from sftforge.studio import edits

ALPACA_ROWS = 52_000


@dataclass
class Workspace:
    project_id: str
    dataset_id: str
    alpaca: list[dict[str, str]]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _import_file(page: Any, dataset_id: str, path: Path) -> Any:
    """Picks ``path`` in the import page; returns the file's row in the queue once it settled."""
    page.goto(f"/datasets/{dataset_id}/import")
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("[data-testid=file-input]", str(path))
    item = page.locator(f"[data-testid=upload-item][data-name='{path.name}']")
    _expect()(item).to_have_attribute("data-status", re.compile("done|failed"), timeout=120_000)
    return item


@pytest.fixture(scope="module")
def workspace(
    browser: Any, studio: StudioServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    expect = _expect()
    data = tmp_path_factory.mktemp("data")
    alpaca_path = data / "alpaca_52k.json"
    alpaca = write_alpaca_json(alpaca_path, ALPACA_ROWS)
    gbk_path = data / "问答_gbk.csv"
    write_gbk_csv(gbk_path)

    context = browser.new_context(base_url=studio.base_url, locale="en-US",
                                  viewport={"width": 1280, "height": 860})  # fmt: skip
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        # a project and a dataset, made in the projects page
        page.goto("/")
        page.fill("[data-testid=project-name]", "客服数据 support")
        page.click("[data-testid=project-create]")
        project = page.locator("[data-testid=project]").first
        expect(project.locator("[data-testid=project-title]")).to_have_text("客服数据 support")
        project_id = str(project.get_attribute("data-id"))
        project.locator("[data-testid=dataset-name]").fill("alpaca-zh")
        project.locator("[data-testid=dataset-create]").click()
        page.wait_for_url(re.compile(r"/datasets/[^/]+/import$"))
        dataset_id = page.url.rsplit("/", 2)[-2]

        # the 52k Alpaca JSON: read = imported, nothing rejected
        item = _import_file(page, dataset_id, alpaca_path)
        expect(item).to_have_attribute("data-status", "done")
        expect(item.locator("[data-testid=import-read]")).to_have_text("52,000")
        expect(item.locator("[data-testid=import-imported]")).to_have_text("52,000")
        expect(item.locator("[data-testid=import-rejected]")).to_have_text("0")

        # the GBK CSV: its headers are not known, so the import fails with the CLI's line and the
        # column mapping form opens with the file's own (Chinese) columns
        item = _import_file(page, dataset_id, gbk_path)
        expect(item).to_have_attribute("data-status", "failed")
        expect(page.locator("[data-testid=error-message]")).to_contain_text(
            "cannot detect the format"
        )
        expect(page.locator("[data-testid=columns-panel]")).to_be_visible()
        columns = page.locator("[data-testid=column-row]")
        expect(columns).to_have_count(4)
        for column, part in (("编号", "id"), ("用户提问", "prompt"), ("参考回复", "response"),
                             ("类别", "meta")):  # fmt: skip
            page.select_option(f"[data-testid=column-part][data-column='{column}']", part)
        screenshot(page, "import")
        page.click("[data-testid=columns-apply]")
        expect(item).to_have_attribute("data-status", "done", timeout=60_000)
        expect(item.locator("[data-testid=import-read]")).to_have_text("3")
        expect(item.locator("[data-testid=import-imported]")).to_have_text("3")
        expect(item.locator("[data-testid=import-rejected]")).to_have_text("0")
        yield Workspace(project_id, dataset_id, alpaca)
    finally:
        context.close()


def test_projects_page_lists_the_dataset_and_switches_to_chinese(
    page: Any, workspace: Workspace
) -> None:
    expect = _expect()
    page.goto("/")
    expect(page.locator("[data-testid=dataset-link]")).to_have_text(["alpaca-zh"])
    screenshot(page, "projects")
    page.select_option("[data-testid=lang-switch]", "zh")
    expect(page.locator("[data-testid=nav-projects]")).to_have_text("项目")
    expect(page.locator("[data-testid=project-create]")).to_have_text("创建")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # the choice holds on the next page (a cookie)
    page.goto(f"/datasets/{workspace.dataset_id}/browse?q=翻译成英文")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=apply-filters]")).to_have_text("筛选")
    expect(page.locator("[data-testid=summary]")).to_contain_text("匹配 5,200 行")
    screenshot(page, "browse-zh")


def test_find_a_row_by_a_chinese_substring(page: Any, workspace: Workspace) -> None:
    expect = _expect()
    page.goto(f"/datasets/{workspace.dataset_id}/browse")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=row]")).to_have_count(50)
    expect(page.locator("[data-testid=page-info]")).to_contain_text("52,003")
    # the phrase sits inside a sentence: a substring match, not a word match
    page.fill("[data-testid=search]", "纠缠的基本")
    page.keyboard.press("Enter")
    rows = page.locator("[data-testid=row]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("[data-testid=cell-first_user]")).to_contain_text(NEEDLE_PHRASE)
    screenshot(page, "browse")
    # sorting by length, longest first, puts the longest row on top
    page.click("[data-testid=clear-filters]")
    expect(rows).to_have_count(50)
    _after_load(page, lambda: page.click("[data-testid=sort-chars]"))
    longest = max(
        len(r["instruction"]) + len(r["input"]) + len(r["output"]) for r in workspace.alpaca
    )
    lengths = [int(c.replace(",", "")) for c in rows_column(page, 4)]
    assert lengths == sorted(lengths, reverse=True)
    assert lengths[0] >= longest


def test_histogram_drag_filters_a_range(page: Any, workspace: Workspace) -> None:
    expect = _expect()
    page.goto(f"/datasets/{workspace.dataset_id}/browse")
    page.wait_for_selector("body[data-ready='1']")
    strip = page.locator("[data-testid=histogram]")
    expect(page.locator("[data-testid=hist-bar]")).to_have_count(40)
    box = strip.bounding_box()
    assert box is not None
    # drag over the left quarter of the strip: only short rows stay
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    expect(page.locator("[data-testid=hist-range]")).not_to_have_text("")
    match = re.search(r"\[(\d+), (\d+)\]", page.locator("[data-testid=hist-range]").inner_text())
    assert match, page.locator("[data-testid=hist-range]").inner_text()
    low, high = int(match.group(1)), int(match.group(2))
    total = int(page.locator("[data-testid=page-info]").inner_text().split()[-1].replace(",", ""))
    assert 0 < total < 52_003
    lengths = [int(c.replace(",", "")) for c in rows_column(page, 4)]
    assert lengths and all(low <= n <= high for n in lengths)


def _after_load(page: Any, action: Any) -> None:
    """Runs ``action`` and waits until the page has loaded a page of rows once more."""
    before = page.evaluate("document.body.dataset.loads")
    action()
    page.wait_for_function("b => document.body.dataset.loads !== b", arg=before)


def rows_column(page: Any, numeric_index: int) -> list[str]:
    """The text of the ``numeric_index``-th numeric cell of each row on the page."""
    return [
        row.locator("td.num").nth(numeric_index).inner_text()
        for row in page.locator("[data-testid=row]").all()
    ]


def _open_row(page: Any, dataset_id: str, search: str) -> None:
    """Finds the one row holding ``search`` in the browser and opens it with the keyboard."""
    expect = _expect()
    page.goto(f"/datasets/{dataset_id}/browse")
    page.wait_for_selector("body[data-ready='1']")
    page.fill("[data-testid=search]", search)
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=row]")).to_have_count(1)
    page.locator("[data-testid=search]").blur()
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready='1'][data-page='record']")


def _lf_rows(zip_path: Path) -> list[dict[str, Any]]:
    """The data rows of a LLaMA-Factory export (the JSON file its dataset_info.json names)."""
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        info_name = next(n for n in names if n.endswith("dataset_info.json"))
        info = json.loads(zf.read(info_name))
        entry = next(iter(info.values()))
        folder = info_name.rsplit("/", 1)[0]
        data: list[dict[str, Any]] = json.loads(zf.read(f"{folder}/{entry['file_name']}"))
        return data


def _turns(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of a ShareGPT-style LLaMA-Factory record, whatever its tag names."""
    key = next(k for k in ("conversations", "messages") if k in record)
    out = []
    for turn in record[key]:
        role = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        out.append((str(role), str(text)))
    return out


def test_review_edit_undo_diff_and_export_for_llamafactory(
    page: Any, workspace: Workspace, tmp_path: Path
) -> None:
    expect = _expect()
    ds = workspace.dataset_id
    needle = workspace.alpaca[NEEDLE_INDEX]

    # 1. edit a turn of the row found by its Chinese phrase, add two turns in the wrong order and
    #    reorder them (the follow-up question must come before its answer)
    _open_row(page, ds, NEEDLE_PHRASE)
    expect(page.locator("[data-testid=turn]")).to_have_count(2)
    screenshot(page, "record")
    page.keyboard.press("e")
    editor = page.locator("[data-testid=editor]")
    expect(editor).to_be_visible()
    turns = editor.locator("[data-testid=editor-turn]")
    expect(turns).to_have_count(2)
    new_answer = "量子纠缠：两个粒子无论相距多远，测量其中一个会立刻确定另一个的状态。"
    turns.nth(1).locator("[data-testid=turn-content-input]").fill(new_answer)
    page.click("[data-testid=editor-add-turn]")  # a user turn (after an assistant one)
    turns.nth(2).locator("[data-testid=turn-role-select]").select_option("assistant")
    turns.nth(2).locator("[data-testid=turn-content-input]").fill("例如一对光子的偏振。")
    page.click("[data-testid=editor-add-turn]")
    turns.nth(3).locator("[data-testid=turn-role-select]").select_option("user")
    turns.nth(3).locator("[data-testid=turn-content-input]").fill("能再举一个例子吗？")
    screenshot(page, "editor")
    turns.nth(3).locator("[data-testid=turn-up]").click()  # reorder: question before answer
    expect(turns.nth(2).locator("[data-testid=turn-content-input]")).to_have_value(
        "能再举一个例子吗？"
    )
    page.keyboard.press("Control+Enter")
    expect(editor).to_be_hidden()
    view = page.locator("[data-testid=record-view] [data-testid=turn]")
    expect(view).to_have_count(4)
    expect(view.nth(1)).to_contain_text(new_answer)
    expect(view.nth(2)).to_have_attribute("data-role", "user")
    expect(view.nth(3)).to_contain_text("例如一对光子的偏振。")

    # 2. reject another row with a reason, with the keyboard
    rejected = workspace.alpaca[7]["instruction"]
    _open_row(page, ds, rejected)
    page.keyboard.press("r")
    page.fill("[data-testid=reason-input]", "答案太笼统")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=status-badge]")).to_have_attribute("data-status", "rejected")
    expect(page.locator("[data-testid=status-reason]")).to_have_text("答案太笼统")

    # 3. mark a row of the GBK CSV verified
    _open_row(page, ds, GBK_ROWS[2][1])
    page.keyboard.press("v")
    expect(page.locator("[data-testid=verified-badge]")).to_be_visible()

    # 4. accept a row by mistake, then undo it with u
    accepted = workspace.alpaca[8]["instruction"]
    _open_row(page, ds, accepted)
    page.keyboard.press("a")
    expect(page.locator("[data-testid=status-badge]")).to_have_attribute("data-status", "accepted")
    page.keyboard.press("u")
    expect(page.locator("[data-testid=status-badge]")).to_have_attribute("data-status", "")

    # 5. commit the edits as a new version and diff it with the import's version
    page.goto(f"/datasets/{ds}")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=pending-edits]")).to_be_visible()
    page.fill("[data-testid=commit-message]", "审核第一批")
    page.click("[data-testid=commit]")
    expect(page.locator("[data-testid=version-row]")).to_have_count(3)  # 2 imports + the commit
    page.click("[data-testid=diff-run]")
    expect(page.locator("[data-testid=diff-summary]")).to_be_visible()
    changed = page.locator("[data-testid=diff-changed-row]")
    expect(changed).to_have_count(3)  # the edited, the rejected and the verified rows
    needle_change = changed.filter(has_text=new_answer)
    expect(needle_change).to_have_count(1)
    # who changed it: the commit's lineage, labelled in the page's language
    edited_by = needle_change.locator("[data-testid=diff-field][data-field='lineage.edited_by']")
    expect(edited_by.locator("td").first).to_have_text("Lineage: edited by")
    expect(page.locator("[data-testid=diff-summary]")).to_contain_text(
        "0 added, 0 removed, 3 changed"
    )
    screenshot(page, "dataset")

    # 6. export the new version for LLaMA-Factory, download it and compare the rows
    page.select_option("[data-testid=export-target]", "framework:llamafactory")
    page.click("[data-testid=export-run]")
    link = page.locator("[data-testid=export-download]").first
    expect(link).to_be_visible(timeout=120_000)
    with page.expect_download() as info:
        link.click()
    zip_path = tmp_path / "export.zip"
    info.value.save_as(zip_path)
    rows = _lf_rows(zip_path)
    assert len(rows) == ALPACA_ROWS + len(GBK_ROWS) - 1  # the rejected row is not exported
    by_first = {_turns(r)[0][1]: r for r in rows}
    assert _turns(by_first[needle["instruction"]])[1:] == [
        ("assistant", new_answer),
        ("user", "能再举一个例子吗？"),
        ("assistant", "例如一对光子的偏振。"),
    ]
    assert rejected not in by_first
    assert _turns(by_first[accepted])[1][1] == workspace.alpaca[8]["output"]
    assert _turns(by_first[GBK_ROWS[2][1]])[1][1] == GBK_ROWS[2][2]


def test_keys_move_between_rows_of_the_browse_list(page: Any, workspace: Workspace) -> None:
    expect = _expect()
    page.goto(f"/datasets/{workspace.dataset_id}/browse")
    page.wait_for_selector("body[data-ready='1']")
    ids = [r.get_attribute("data-row-id") for r in page.locator("[data-testid=row]").all()[:3]]
    page.keyboard.press("j")  # the second row of the page is the current one
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=row-id]")).to_have_text(str(ids[1]))
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("j")
    expect(page.locator("[data-testid=row-id]")).to_have_text(str(ids[2]))
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("k")
    expect(page.locator("[data-testid=row-id]")).to_have_text(str(ids[1]))
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("k")
    expect(page.locator("[data-testid=row-id]")).to_have_text(str(ids[0]))


def test_an_interrupted_upload_resumes_where_it_stopped(page: Any, tmp_path: Path) -> None:
    """The connection drops after two chunks; picking the file again sends only the rest, and
    the import reads every record (a wrong resume offset would corrupt the lines)."""
    expect = _expect()
    chunk = 64 * 1024
    path = tmp_path / "resume.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            record = {"instruction": f"续传测试第 {i} 条", "output": f"answer {i} " + "x" * 40}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    assert path.stat().st_size > 4 * chunk
    page.add_init_script(f"window.studioUploadChunk = {chunk};")
    project = page.request.post("/api/projects", data={"name": "resume"}).json()
    dataset = page.request.post(
        f"/api/projects/{project['id']}/datasets", data={"name": "resume"}
    ).json()

    offsets: list[int] = []

    def drop_third_chunk(route: Any) -> None:
        offset = int(re.search(r"offset=(\d+)", route.request.url).group(1))  # type: ignore[union-attr]
        if offset >= 2 * chunk:
            route.abort("connectionreset")
        else:
            offsets.append(offset)
            route.continue_()

    page.route(re.compile(r".*/api/uploads/[^/]+\?offset=\d+$"), drop_third_chunk)
    page.goto(f"/datasets/{dataset['id']}/import")
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("[data-testid=file-input]", str(path))
    first = page.locator("[data-testid=upload-item]").nth(0)
    expect(first).to_have_attribute("data-status", "failed")
    assert offsets == [0, chunk]
    page.unroute(re.compile(r".*/api/uploads/[^/]+\?offset=\d+$"))

    sent: list[int] = []
    page.on(
        "request",
        lambda r: sent.append(int(r.url.rsplit("=", 1)[1])) if "?offset=" in r.url else None,
    )
    page.set_input_files("[data-testid=file-input]", [])
    page.set_input_files("[data-testid=file-input]", str(path))
    second = page.locator("[data-testid=upload-item]").nth(1)
    expect(second).to_have_attribute("data-status", "done", timeout=60_000)
    assert sent[0] == 2 * chunk  # resumed, not restarted
    expect(second.locator("[data-testid=import-read]")).to_have_text("3,000")
    expect(second.locator("[data-testid=import-imported]")).to_have_text("3,000")


def test_review_queue_with_the_keyboard(page: Any, workspace: Workspace) -> None:
    """A queue of a sample of the Chinese rows, reviewed with a, r (reason), u and j; progress
    follows. Needs studio-review's queues (skipped on a tree without them)."""
    pytest.importorskip("sftforge.studio.reviews", reason="studio-review's queues are not merged")
    expect = _expect()
    page.goto(f"/datasets/{workspace.dataset_id}")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=review-panel]")).to_be_visible()
    page.fill("[data-testid=queue-name-input]", "抽查")
    page.fill("[data-testid=queue-q]", "句话翻译成英文")
    page.fill("[data-testid=queue-percent]", "0.1")
    page.click("[data-testid=queue-create]")
    page.wait_for_url(re.compile(r"/queues/[^/]+$"))
    page.wait_for_selector("body[data-ready='1']")
    queue_id = page.url.rsplit("/", 1)[1]
    items = page.request.get(f"/api/reviews/queues/{queue_id}").json()["items"]
    assert items >= 2
    expect(page.locator("[data-testid=progress-mine]")).to_contain_text(f"0 of {items}")
    first = page.locator("[data-testid=item-row]").inner_text()
    expect(page.locator("[data-testid=review-current]")).to_contain_text("翻译成英文")
    screenshot(page, "review")

    page.keyboard.press("a")  # accept: the next item comes
    expect(page.locator("[data-testid=item-row]")).not_to_have_text(first)
    expect(page.locator("[data-testid=progress-mine]")).to_contain_text(f"1 of {items}")
    second = page.locator("[data-testid=item-row]").inner_text()
    page.keyboard.press("r")
    page.fill("[data-testid=reason-input]", "译文不完整")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=progress-mine]")).to_contain_text(f"2 of {items}")
    page.keyboard.press("u")  # the rejection is undone and its item shown again
    expect(page.locator("[data-testid=item-row]")).to_have_text(second)
    expect(page.locator("[data-testid=item-status]")).to_have_attribute("data-status", "pending")
    expect(page.locator("[data-testid=progress-mine]")).to_contain_text(f"1 of {items}")
    row = page.request.get(f"/api/datasets/{workspace.dataset_id}/rows/{first}").json()["row"]
    assert row["status"] == "accepted"
    row = page.request.get(f"/api/datasets/{workspace.dataset_id}/rows/{second}").json()["row"]
    assert row["status"] == ""
    # e: the row's editor, with the way back to the queue
    page.keyboard.press("e")
    expect(page.locator("[data-testid=editor]")).to_be_visible()
    expect(page.locator("[data-testid=row-id]")).to_have_text(second)
    page.click("[data-testid=back-to-browse]")
    page.wait_for_url(re.compile(f"/queues/{queue_id}$"))


TOOL_CONVERSATION = {
    "id": "weather-1",
    "messages": [
        {"role": "system", "content": "你是天气助手。"},
        {"role": "user", "content": "北京今天天气如何？<script>window.pwned = 1</script>"},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "需要调用天气工具。",
            "tool_calls": [{"name": "get_weather", "arguments": {"city": "北京"}}],
        },
        {"role": "tool", "content": '{"temp": 21, "sky": "晴"}', "name": "get_weather"},
        {
            "role": "assistant",
            "content": "<think>温度 21 度，晴天。</think>北京今天**晴**，21 度。\n\n"
            "```python\nprint('带伞？不用')\n```\n\n- 紫外线：中等\n- 风力：2 级",
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
}


def test_a_tool_conversation_renders_as_a_chat(
    page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Markdown, a code block, tool calls and results, reasoning folded (a turn's ``reasoning``
    and a ``<think>`` block in the text), and markup in a record shown as text, never run."""
    expect = _expect()
    path = tmp_path / "weather.jsonl"
    path.write_text(json.dumps(TOOL_CONVERSATION, ensure_ascii=False) + "\n", encoding="utf-8")
    project = page.request.post("/api/projects", data={"name": "tools"}).json()
    dataset = page.request.post(
        f"/api/projects/{project['id']}/datasets", data={"name": "weather"}
    ).json()
    page.goto(f"/datasets/{dataset['id']}/import")
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("[data-testid=format]", "sftforge")
    page.set_input_files("[data-testid=file-input]", str(path))
    item = page.locator("[data-testid=upload-item]")
    expect(item).to_have_attribute("data-status", "done")
    page.goto(f"/datasets/{dataset['id']}/rows/weather-1")
    page.wait_for_selector("body[data-ready='1']")

    turns = page.locator("[data-testid=record-view] [data-testid=turn]")
    expect(turns).to_have_count(5)
    expect(turns.nth(1)).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned") is None
    thinks = page.locator("[data-testid=think]")
    expect(thinks).to_have_count(2)
    for i in range(2):
        assert thinks.nth(i).get_attribute("open") is None  # folded
    expect(page.get_by_text("温度 21 度，晴天。")).to_be_hidden()
    thinks.nth(1).locator("summary").click()
    expect(page.get_by_text("温度 21 度，晴天。")).to_be_visible()
    call = turns.nth(2).locator("[data-testid=tool-call]")
    expect(call).to_contain_text("get_weather")
    expect(call).to_contain_text('"city": "北京"')
    expect(turns.nth(3).locator("[data-testid=tool-result]")).to_contain_text('"temp": 21')
    answer = turns.nth(4)
    expect(answer.locator("strong")).to_have_text("晴")
    expect(answer.locator("pre.code code")).to_have_text("print('带伞？不用')")
    expect(answer.locator("li")).to_have_count(2)
    expect(page.locator("[data-testid=tools-view]")).to_contain_text("get_weather")
    screenshot(page, "conversation")

    # the editor: a new system prompt, the last answer split before its code block and the
    # code part deleted; the tool call and the reasoning stay as they were
    page.keyboard.press("e")
    page.fill("[data-testid=editor-system]", "你是严谨的天气助手。")
    turns = page.locator("[data-testid=editor-turn]")
    expect(turns).to_have_count(4)  # the system prompt has its own field
    last = turns.nth(3).locator("[data-testid=turn-content-input]")
    at = TOOL_CONVERSATION["messages"][4]["content"].index("\n\n```python")
    last.evaluate("(el, at) => { el.focus(); el.setSelectionRange(at, at); }", at)
    turns.nth(3).locator("[data-testid=turn-split]").click()
    expect(turns).to_have_count(5)
    expect(turns.nth(4).locator("[data-testid=turn-content-input]")).to_have_value(
        re.compile(r"^```python")
    )
    turns.nth(4).locator("[data-testid=turn-delete]").click()
    expect(turns).to_have_count(4)
    page.click("[data-testid=editor-save]")
    expect(page.locator("[data-testid=editor]")).to_be_hidden()
    # every other field through the JSON of the whole sample
    page.keyboard.press("e")
    page.click("[data-testid=editor-raw] summary")
    raw = page.locator("[data-testid=editor-raw-input]")
    sample = json.loads(raw.input_value())
    sample["meta"] = {**sample.get("meta", {}), "domain": "天气"}
    raw.fill(json.dumps(sample, ensure_ascii=False))
    page.keyboard.press("Control+Enter")
    expect(page.locator("[data-testid=editor]")).to_be_hidden()
    page.keyboard.press("f")
    page.fill("[data-testid=reason-input]", "需要核对温度")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=status-badge]")).to_have_attribute("data-status", "flagged")

    row = page.request.get(f"/api/datasets/{dataset['id']}/rows/weather-1").json()["row"]
    messages = row["sample"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[0]["content"] == "你是严谨的天气助手。"
    assert messages[2] == TOOL_CONVERSATION["messages"][2]
    assert messages[4]["content"] == "<think>温度 21 度，晴天。</think>北京今天**晴**，21 度。"
    assert row["sample"]["meta"]["domain"] == "天气"
    assert row["sample"]["tools"] == TOOL_CONVERSATION["tools"]
    assert (row["status"], row["reason"]) == ("flagged", "需要核对温度")

    # tags and a score (t focuses the tags), then the browser finds the row by its tag
    page.keyboard.press("t")
    page.keyboard.type("天气，工具调用")
    page.fill("[data-testid=score-input]", "4.5")
    page.click("[data-testid=labels-save]")
    expect(page.locator("[data-testid=tags-input]")).to_have_value("天气, 工具调用")
    row = page.request.get(f"/api/datasets/{dataset['id']}/rows/weather-1").json()["row"]
    assert (row["tags"], row["score"]) == (["天气", "工具调用"], 4.5)
    page.goto(f"/datasets/{dataset['id']}")
    page.wait_for_selector("body[data-ready='1']")
    # every head counts as large here: the commit answers 202 with a job and the page follows it
    monkeypatch.setattr(edits, "COMMIT_INLINE_ROWS", 0)
    page.click("[data-testid=commit]")  # browsing reads versions: commit the edits first
    expect(page.locator("[data-testid=version-row]")).to_have_count(2)
    page.goto(f"/datasets/{dataset['id']}/browse?tag=工具调用")
    page.wait_for_selector("body[data-ready='1']")
    found = page.locator("[data-testid=row]")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text("4.5")
    expect(found.first.locator("[data-testid=cell-status]")).to_have_text("flagged")


def test_import_a_file_from_the_server_data_root(page: Any, studio: StudioServer) -> None:
    """The import page lists the data root; a file picked there is imported; its one bad line is
    rejected, counted (read = imported + rejected) and shown with its line and reason on the
    dataset page (studio-guard's sources; skipped on a tree without them)."""
    pytest.importorskip("sftforge.studio.sources", reason="studio-guard's sources are not merged")
    expect = _expect()
    root = studio.settings.data_root
    assert root is not None
    (root / "raw").mkdir()
    lines = [
        json.dumps({"instruction": f"第 {i} 个问题", "output": f"答案 {i}"}, ensure_ascii=False)
        for i in range(40)
    ]
    lines.insert(17, '{"instruction": "断掉的一行", "output": ')  # line 18: not JSON
    (root / "raw" / "qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    project = page.request.post("/api/projects", data={"name": "server"}).json()
    dataset = page.request.post(
        f"/api/projects/{project['id']}/datasets", data={"name": "qa"}
    ).json()
    page.goto(f"/datasets/{dataset['id']}/import")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("[data-testid=sources-panel]")).to_be_visible()
    page.locator("[data-testid=server-file][data-name=raw] a").click()
    page.locator("[data-testid=server-file][data-name='qa.jsonl'] a").click()
    expect(page.locator("[data-testid=source-value]")).to_have_value("raw/qa.jsonl")
    page.select_option("[data-testid=format]", "alpaca")
    page.click("[data-testid=source-import]")
    item = page.locator("[data-testid=upload-item]")
    expect(item).to_have_attribute("data-status", "done")
    expect(item.locator("[data-testid=import-read]")).to_have_text("41")
    expect(item.locator("[data-testid=import-imported]")).to_have_text("40")
    expect(item.locator("[data-testid=import-rejected]")).to_have_text("1")

    page.goto(f"/datasets/{dataset['id']}")
    page.wait_for_selector("body[data-ready='1']")
    page.click("[data-testid=show-rejects]")
    reject = page.locator("[data-testid=reject-row]")
    expect(reject).to_have_count(1)
    expect(reject).to_contain_text("qa.jsonl:18")
    expect(reject).to_contain_text("断掉的一行")
    with page.expect_download() as info:
        page.click("[data-testid=download-rejects]")
    saved = [json.loads(x) for x in Path(info.value.path()).read_text("utf-8").splitlines()]
    assert len(saved) == 1 and saved[0]["line"] == 18


def test_a_whole_folder_is_uploaded_and_imported(page: Any, tmp_path: Path) -> None:
    """Choosing a folder sends each file in it (subfolders too), keeping the relative paths;
    each file makes a version; the dataset page tags one and rolls back to the other."""
    expect = _expect()
    folder = tmp_path / "批次一"
    (folder / "sub").mkdir(parents=True)
    for path, n in ((folder / "a.jsonl", 3), (folder / "sub" / "b.jsonl", 2)):
        records = [
            {"instruction": f"{path.stem} 问题 {i}", "output": f"回答 {i}"} for i in range(n)
        ]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    project = page.request.post("/api/projects", data={"name": "folder"}).json()
    dataset = page.request.post(
        f"/api/projects/{project['id']}/datasets", data={"name": "folder"}
    ).json()
    page.goto(f"/datasets/{dataset['id']}/import")
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("[data-testid=folder-input]", str(folder))
    items = page.locator("[data-testid=upload-item]")
    expect(items).to_have_count(2)
    names = sorted(items.locator("[data-testid=upload-name]").all_inner_texts())
    assert names == ["批次一/a.jsonl", "批次一/sub/b.jsonl"]
    for i in range(2):
        expect(items.nth(i)).to_have_attribute("data-status", "done")
    imported = items.locator("[data-testid=import-imported]").all_inner_texts()
    assert sorted(imported) == ["2", "3"]
    head = page.request.get(f"/api/datasets/{dataset['id']}").json()["head"]
    assert head["rows"] == 5

    # two versions now (one per file): tag the newest, then roll back to the first
    page.goto(f"/datasets/{dataset['id']}")
    page.wait_for_selector("body[data-ready='1']")
    versions = page.locator("[data-testid=version-row]")
    expect(versions).to_have_count(2)
    first_version = versions.nth(1).get_attribute("data-version")
    page.once("dialog", lambda dialog: dialog.accept("both-files"))
    versions.nth(0).locator("[data-testid=version-tag]").click()
    expect(versions.nth(0).locator("[data-testid=version-tags]")).to_have_text("both-files")
    page.once("dialog", lambda dialog: dialog.accept())
    versions.nth(1).locator("[data-testid=version-rollback]").click()
    expect(versions).to_have_count(3)
    expect(versions.nth(0).locator("[data-testid=head-badge]")).to_be_visible()
    head = page.request.get(f"/api/datasets/{dataset['id']}").json()["head"]
    first = page.request.get(f"/api/datasets/{dataset['id']}/versions/{first_version}").json()
    assert head["kind"] == "rollback" and head["rows"] == first["rows"] < 5
    tags = page.request.get(f"/api/datasets/{dataset['id']}/tags").json()["tags"]
    assert [t["name"] for t in tags] == ["both-files"]
    assert tags[0]["version_id"] != first_version
