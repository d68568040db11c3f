from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fakeserver import FakeServer, Reply

import sftforge.generate  # noqa: F401  (registers the ops)
from sftforge.errors import RecipeError
from sftforge.llm import LLMConfig
from sftforge.ops.base import Reject, build_op
from sftforge.sample import Message, Sample


def _q(text: str, answer: str | None = None) -> Sample:
    return Sample(
        messages=[Message("user", text)] + ([Message("assistant", answer)] if answer else [])
    )


def _llm(llm: LLMConfig) -> dict[str, object]:
    return {"base_url": llm.base_url, "model": "fake", "cache": llm.cache, "max_retries": 0}


def test_respond_op_answers_and_rejects_failures(
    server: FakeServer, llm: LLMConfig, tmp_path: Path
) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    op = build_op("respond", {"llm": _llm(llm), "failed": str(tmp_path / "failed.jsonl")})
    items = [_q("one"), _q("doomed"), _q("two", "kept as is")]
    rejects: list[Reject] = []
    out = list(op.run(lambda: iter(items), rejects.append))
    assert [s.messages[-1].content for s in out] == ["ANSWER: one", "kept as is"]
    assert [(r.sample.id, r.reason[:18]) for r in rejects] == [(items[1].id, "llm failed: HTTP 4")]
    assert (op.counters.seen, op.counters.kept, dict(op.counters.dropped).popitem()[1]) == (3, 2, 1)
    assert op.counters.extra["llm_requests"] == 2
    assert (
        orjson.loads((tmp_path / "failed.jsonl").read_bytes().splitlines()[0])["task"] == "respond"
    )


def test_judge_op_sets_stats_that_filters_read(server: FakeServer, llm: LLMConfig) -> None:
    op = build_op("judge", {"llm": _llm(llm), "scale": 10})
    out = list(op.run(lambda: iter([_q("q", "BAD answer")]), lambda r: None))
    assert out[0].meta["stats"]["judge_overall"] == 2


def test_paraphrase_op_keeps_originals_and_rejects_unchanged(
    server: FakeServer, llm: LLMConfig
) -> None:
    op = build_op("paraphrase", {"llm": _llm(llm)})
    items = [_q("Write a short poem about the sea", "p"), _q("IDENTICAL words here", "x")]
    rejects: list[Reject] = []
    out = list(op.run(lambda: iter(items), rejects.append))
    assert [s.messages[0].content for s in out] == [
        "Write a short poem about the sea",
        "IDENTICAL words here",
        "Write a short poem about the sea please, kindly",
    ]
    assert [r.reason for r in rejects] == ["too close to the original (ROUGE-L 1.00 > 0.9)"]


def test_unknown_op_option_lists_valid_ones() -> None:
    with pytest.raises(RecipeError, match=r"valid options for 'judge'.*scale"):
        build_op("judge", {"scales": 5})
