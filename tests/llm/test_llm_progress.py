"""An LLM step's progress, one report for every reader (``sftforge.progress``): a watcher gets
the step's items done of its total with the client's calls, failures, tokens and cost against
the budget as they happen, the numbers frozen when the stage ends; the CLI's line shows the
same numbers."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fakeserver import FakeServer, Reply

from sftforge import progress
from sftforge.generate import build_generator
from sftforge.generate.run import generate
from sftforge.llm import LLMConfig
from sftforge.sample import Message, Sample


def _items() -> list[Sample]:
    return [Sample(messages=[Message("user", q)]) for q in ("一", "two", "doomed", "four")]


def _llm(server: FakeServer) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model="m", cache=None, max_retries=0,
                     concurrency=1, max_tokens_budget=10_000, max_cost=1.0,
                     prices={"m": {"input": 100.0, "output": 200.0}})  # fmt: skip


def test_a_watcher_sees_the_step_advance_call_by_call(server: FakeServer) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    seen: list[list[dict[str, Any]]] = []
    with progress.watch(seen.append, every=0) as watcher:
        res = generate(build_generator("respond"), _items(), _llm(server), progress=True)
    assert len(res.samples) == 3 and len(res.failed) == 1
    views = [v[-1] for v in seen if v and v[-1]["label"] == "respond"]
    done = [v["count"] for v in views]
    assert done[0] == 0 and done[-1] == 4 and done == sorted(done)
    assert len(set(done)) == 5  # a report after every item, while the step ran
    calls = [v["info"]["llm"]["calls"] for v in views]
    assert calls == sorted(calls) and calls[-1] == len(server.log) == 4
    last = views[-1]
    assert (last["state"], last["expected"], last["fraction"], last["unit"]) == (
        "done", 4, 1.0, "items")  # fmt: skip
    llm = last["info"]["llm"]
    assert last["info"]["items_failed"] == 1 and llm["calls_failed"] == 1
    # the fake server counts 10 prompt and 5 completion tokens an answer: three answers
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["tokens"]) == (30, 15, 45)
    assert llm["cost"] == pytest.approx((30 * 100 + 15 * 200) / 1e6)
    assert llm["budget"] == {"max_tokens": 10_000, "max_cost": 1.0, "spent_tokens": 45,
                             "spent_cost": pytest.approx(0.006)}  # fmt: skip
    # a finished stage's numbers stay as they ended, time included
    time.sleep(0.05)
    [stage] = [s for s in watcher.stages if s.label == "respond"]
    assert stage.view() == last
    # the watcher left: nothing more is reported
    before = len(seen)
    generate(build_generator("respond"), _items()[:1], _llm(server), progress=True)
    assert len(seen) == before


def test_the_cli_line_shows_the_same_numbers(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    progress.configure(mode="line")  # what the CLI picks when stderr is not a terminal
    try:
        generate(build_generator("respond"), _items(), _llm(server), progress=True)
    finally:
        progress.configure(mode="off")
    assert re.fullmatch(
        r"respond: 4 items in \d+\.\d s \([\d.,]+ items/s\), 4 calls, 1 failed, 1 items failed,"
        r" 45 tokens, cost 0\.006; budget 45 of 10,000 tokens, cost 0\.006 of 1\n",
        capsys.readouterr().err,
    )
