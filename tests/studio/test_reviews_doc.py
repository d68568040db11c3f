"""docs/studio.md, section Review: the Python example runs as written against the real app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset

from sftforge.studio import edits

DOC = (Path(__file__).resolve().parents[2] / "docs" / "studio.md").read_text(encoding="utf-8")
REVIEW = DOC[DOC.index("## Review") :]
# fenced as ``py`` (the page's one ``python`` block is studio-core's example)
EXAMPLE = re.findall(r"```py\n(.*?)```", REVIEW, re.S)[0]


def test_review_example_runs(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    ds = new_dataset(client)
    data = [
        {
            "id": f"r{i}",
            "messages": [
                {"role": "user", "content": f"第{i}题"},
                {"role": "assistant", "content": f"model answer {i}"},
            ],
            "meta": {"answer_from": "llm", "llm": {"model": "gpt-4"}},
        }
        for i in range(4)
    ]
    assert import_rows(client, ds, "gen.jsonl", data)["imported"] == 4
    namespace = {"client": client, "dataset_id": ds}
    exec(compile(EXAMPLE, "docs/studio.md", "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == ["gpt-4", "1 of 2"]
    row_id = namespace["shown"]["item"]["row_id"]  # type: ignore[index]
    row = edits.current_row(client.app.state.store, ds, row_id)["row"]  # type: ignore[attr-defined]
    assert row["human_verified"] is True and row["status"] == "accepted"
    assert row["sample"]["messages"][-1]["content"] == "A corrected answer."
    assert row["sample"]["meta"]["suggestion"]["messages"][-1]["content"].startswith("model answer")
