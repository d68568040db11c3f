"""The scores ``generate judge`` writes can be filtered on with ``field_filter``."""

from __future__ import annotations

import json
from pathlib import Path

from fakeserver import FakeServer

import sftforge.ops.filters  # noqa: F401  (registers the filters)
from sftforge import read
from sftforge.cli.main import main
from sftforge.ops.base import build_op


def test_judge_then_keep_overall_at_least_4(server: FakeServer, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "judged.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "good"}]},
        {"messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "BAD"}]},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["--base-url", server.base_url, "--model", "fake", "--no-progress"]
    args += ["--cache", str(tmp_path / "c.sqlite")]
    assert main(["generate", "judge", str(src), str(out), *args]) == 0
    with read(out) as reader:  # closes the file (a plain file is read without a wrapper)
        judged = list(reader)
    op = build_op("field_filter", {"field": "stats.judge_overall", "min": 4})
    kept, rejects = op.apply(judged)  # type: ignore[union-attr]
    assert [s.messages[-1].content for s in kept] == ["good"]
    assert rejects[0].reason == "stats.judge_overall is 2, below min 4"
