"""docs/studio.md, section Runs and generation: the Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

DOC = (Path(__file__).resolve().parents[2] / "docs" / "studio.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## Runs and generation") : DOC.index("\n## Errors")]
EXAMPLE = re.findall(r"```py\n(.*?)```", SECTION, re.S)[0]


def test_runs_example_runs(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    ds = new_dataset(client)
    data = [
        {"id": "a", "messages": [{"role": "user", "content": "什么是<b>SFT</b>?"},
                                 {"role": "assistant", "content": "监督微调。"}]},
        {"id": "b", "messages": [{"role": "user", "content": "什么是<b>SFT</b>?"},
                                 {"role": "assistant", "content": "监督微调。"}]},
        {"id": "c", "messages": [{"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "x"}]},
    ]  # fmt: skip
    assert import_rows(client, ds, "qa.jsonl", data)["imported"] == 3
    # the example's "... the job runs" is the server's worker; here the test runs it
    before, after = EXAMPLE.split("# ... the job runs; then:\n")
    namespace = {"client": client, "dataset_id": ds}
    exec(compile(before, "docs/studio.md", "exec"), namespace)
    run_jobs(client)
    exec(compile(after, "docs/studio.md", "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == [
        "3 = 1 + 2 + 0",
        "c length_filter chars below min 2",
        "b dedup_exact exact_duplicate",
    ]
