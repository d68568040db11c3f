"""The field-level diff of a changed row (``/api/datasets/{id}/diff/row``) also names who or what
changed it: the lineage fields that differ (``lineage.edited_by`` for a person's edit,
``lineage.made_by`` for a recipe run's operator and job); a row whose content is unchanged shows
no lineage entries."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

from sftforge.studio.i18n import messages
from sftforge.studio.versions import LINEAGE_FIELDS

RECORDS = [
    {"id": "html", "messages": [{"role": "user", "content": "什么是<b>机器学习</b>?"},
                                {"role": "assistant", "content": "机器学习是人工智能的一个分支。"}]},
    {"id": "edited", "messages": [{"role": "user", "content": "What is SFT?"},
                                  {"role": "assistant", "content": "Supervised fine-tuning."}]},
    {"id": "plain", "messages": [{"role": "user", "content": "数据集的版本是什么?"},
                                 {"role": "assistant", "content": "每次导入或运行都会产生一个新版本。"}]},
]  # fmt: skip


def _head(client: TestClient, ds: str) -> str:
    return str(client.get(f"/api/datasets/{ds}").json()["head_version"])


def _row_diff(client: TestClient, ds: str, a: str, b: str, row_id: str) -> dict[str, Any]:
    got = client.get(f"/api/datasets/{ds}/diff/row", params={"a": a, "b": b, "row_id": row_id})
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def _lineage(fields: list[dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    return {
        f["path"]: (f["before"], f["after"]) for f in fields if f["path"].startswith("lineage.")
    }


def test_an_edit_and_a_recipe_run_show_who_changed_the_row(client: TestClient) -> None:
    ds = new_dataset(client)
    assert import_rows(client, ds, "qa.jsonl", RECORDS)["imported"] == 3
    v1 = _head(client, ds)

    # a person edits one row; the commit sets its edited_by / edited_at
    row = client.get(f"/api/datasets/{ds}/rows/edited").json()
    sample = row["row"]["sample"]
    sample["messages"][1]["content"] = "监督微调 (SFT)。"
    put = client.put(f"/api/datasets/{ds}/rows/edited",
                     json={"sample": sample, "base_revision": row["revision"]})  # fmt: skip
    assert put.status_code == 200, put.text
    assert client.post(f"/api/datasets/{ds}/commit", json={}).status_code == 201
    v2 = _head(client, ds)

    edit = _row_diff(client, ds, v1, v2, "edited")
    assert edit["change"] == "changed"
    # the content entry comes first, exactly as before; the lineage entries follow it
    assert edit["fields"][0] == {"path": "messages[1].content",
                                 "before": "Supervised fine-tuning.", "after": "监督微调 (SFT)。"}  # fmt: skip
    lineage = _lineage(edit["fields"])
    assert set(lineage) == {"lineage.edited_by", "lineage.edited_at"}, edit["fields"]
    assert lineage["lineage.edited_by"][0] is None and lineage["lineage.edited_by"][1]
    assert lineage["lineage.edited_at"][0] is None and lineage["lineage.edited_at"][1]
    edited_row = client.get(f"/api/datasets/{ds}/rows/edited").json()["row"]
    assert lineage["lineage.edited_by"][1] == edited_row["edited_by"]
    assert lineage["lineage.edited_at"][1] == edited_row["edited_at"]
    # the untouched rows: the same, no fields at all (so no lineage entries)
    for same in ("html", "plain"):
        untouched = _row_diff(client, ds, v1, v2, same)
        assert (untouched["change"], untouched["fields"]) == ("same", []), untouched

    # a recipe run's cleaner changes one row: made_by names the operator and the run's job
    started = client.post(
        f"/api/datasets/{ds}/runs", json={"recipe": "steps:\n  - clean_html: {}\n"}
    )
    assert started.status_code == 202, started.text
    run_jobs(client)
    run = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["job"]["status"] == "done", run["job"]
    v3 = _head(client, ds)
    assert v3 != v2

    cleaned = _row_diff(client, ds, v2, v3, "html")
    assert cleaned["change"] == "changed"
    assert cleaned["fields"][0]["path"] == "messages[0].content"
    assert cleaned["fields"][0]["after"] == "什么是机器学习?"
    made_by = _lineage(cleaned["fields"])["lineage.made_by"]
    assert made_by[0] == "import"
    assert made_by[1] is not None and made_by[1].startswith("clean_html@"), made_by
    assert run["job"]["id"] in made_by[1]
    # the import's source file and line did not change, so they are not listed
    assert not {"lineage.src", "lineage.src_line"} & set(_lineage(cleaned["fields"]))
    # the rows the cleaner left alone keep their lineage: same, nothing listed
    for same in ("edited", "plain"):
        kept = _row_diff(client, ds, v2, v3, same)
        assert (kept["change"], kept["fields"]) == ("same", []), kept

    # across both steps the edited row shows the person's edit (v1 -> v3)
    both = _lineage(_row_diff(client, ds, v1, v3, "edited")["fields"])
    assert set(both) == {"lineage.edited_by", "lineage.edited_at"}


def test_the_diff_page_labels_the_lineage_fields_in_both_languages() -> None:
    for lang in ("en", "zh"):
        words = messages(lang)
        for k in LINEAGE_FIELDS:
            assert words.get(f"diff.lineage.{k}"), (lang, k)
    assert messages("zh")["diff.lineage.made_by"] != messages("en")["diff.lineage.made_by"]
