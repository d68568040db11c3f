"""LLM steps on Ray against the local executor, with the fake OpenAI-compatible server on
loopback counting requests: the same bytes, a rerun that sends nothing, one budget for all the
workers, the tasks' cache files merged into the main cache. One local Ray (2 CPUs) per module."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.errors import SftforgeError
from sftforge.llm.cache import CompletionCache
from sftforge.llm.config import LLMConfig
from sftforge.llm.types import Completion, Usage
from sftforge.pipeline import run_recipe
from sftforge.pipeline.ray_executor import RayExecutor
from sftforge.pipeline.ray_llm import limit_shares
from sftforge.sample import Message, Sample

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COMPARED = ("train.jsonl", "test.jsonl", "rejects.jsonl", "recipe.lock.yaml", "failed.jsonl")
TOKENS_PER_CALL = 15  # the fake server's usage: 10 prompt + 5 completion tokens


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _model(body: dict[str, Any]) -> Reply:
    """A deterministic model: judge scores (low for BAD answers), else an echo."""
    text = "\n".join(str(m["content"]) for m in body["messages"])
    if "Rate the assistant's final answer" in text or "分别打分" in text:
        s = 2 if "BAD" in text else 8
        scores = {"harmlessness": 9, "honesty": s, "helpfulness": s, "overall": s}
        return Reply(json.dumps({**scores, "rationale": "r"}, ensure_ascii=False))
    return Reply(f"ANSWER: {body['messages'][-1]['content']}")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = _model
    srv.add("doomed", Reply(status=400, raw="no"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))


def _samples() -> list[Sample]:
    """English and Chinese questions, some with BAD answers (the judge scores them low, respond
    answers them again), one the server refuses (a failure), one with no answer."""
    out = []
    for i in range(28):
        q = f"question {i} about rivers" if i % 2 else f"问题 {i}：河流有多长"
        a = f"BAD answer {i}" if i % 5 == 0 else f"a fine answer {i} 很好"
        if i == 13:
            q = f"doomed question {i}"
        out.append(Sample([Message("user", q), Message("assistant", a)]))
    return out


def _recipe(
    tmp_path: Path, server: FakeServer, judge: dict[str, Any] | None = None, **llm: Any
) -> Path:
    """The recipe; ``judge``: LLM options for the judge step only (a budget is per step)."""
    (tmp_path / "in.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in _samples()))
    opts = {
        "base_url": server.base_url,
        "model": "fake",
        "cache": str(tmp_path / "llm.sqlite"),
        "max_retries": 0,
        "params": {"max_tokens": 8},
        **llm,
    }
    failed = str(tmp_path / "failed.jsonl")
    recipe = {
        "chunk_size": 8,
        "inputs": [{"path": "in.jsonl", "name": "raw"}],
        "steps": [
            {"clean": {}},
            {"judge": {"scale": 10, "llm": {**opts, **(judge or {})}, "failed": failed}},
            {"respond": {"mode": "low_score", "threshold": 5, "llm": opts}},
            {"paraphrase": {"max_rouge": 0.95, "llm": opts}},
            {"split": {"ratios": {"train": 0.75, "test": 0.25}, "seed": 4}},
        ],
        "outputs": {
            "train": {"format": "sftforge", "path": "train.jsonl"},
            "test": {"format": "sftforge", "path": "test.jsonl"},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    return path


def _run(recipe: Path, out: Path, **kw: Any) -> Any:
    """Run the recipe into ``out``; the failed file (written beside the recipe) is moved in."""
    res = run_recipe(recipe, out, **kw)
    failed = recipe.parent / "failed.jsonl"
    if failed.exists():
        failed.rename(out / "failed.jsonl")
    return res


def _counts(run: Path) -> dict[str, Any]:
    report = orjson.loads((run / "report.json").read_bytes())
    for key in ("sftforge", "seconds", "workers", "throughput", "peak_rss_mb"):
        report.pop(key)
    for row in [*report["steps"], *report["stages"]]:
        for key in ("seconds", "throughput", "peak_rss_mb", "resumed_chunks"):
            row.pop(key, None)
    return dict(report)


def _same(local: Path, other: Path, *, counts: bool = True) -> None:
    """The same files byte for byte and (``counts``) the same report, timings left out."""
    for name in COMPARED:
        assert (local / name).exists() == (other / name).exists(), name
        if (local / name).exists():
            assert (local / name).read_bytes() == (other / name).read_bytes(), name
    if counts:
        assert _counts(local) == _counts(other)


def _fresh_cache(tmp_path: Path) -> None:
    for f in tmp_path.glob("llm.sqlite*"):
        f.unlink()


def _rejects(run: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (run / "rejects.jsonl").read_bytes().splitlines()]


def test_llm_steps_on_ray_are_byte_identical_and_a_rerun_sends_nothing(
    tmp_path: Path, server: FakeServer
) -> None:
    recipe = _recipe(tmp_path, server)
    local = _run(recipe, tmp_path / "local", workers=2)
    sent_locally = len(server.log)
    _fresh_cache(tmp_path)  # Ray makes the calls itself, not from the local run's answers
    on_ray = _run(recipe, tmp_path / "ray", engine="ray")
    assert on_ray.counts == local.counts
    _same(tmp_path / "local", tmp_path / "ray")
    # the calls were made (each prompt once, as locally), by the Ray workers
    assert len(server.log) - sent_locally == sent_locally > 28
    reasons = {(r["op"], r["reason"][:19]) for r in _rejects(tmp_path / "ray")}
    assert ("judge", "llm failed: HTTP 40") in reasons
    failed = [
        orjson.loads(x) for x in (tmp_path / "ray" / "failed.jsonl").read_bytes().splitlines()
    ]
    assert [f["input"]["messages"][0]["content"] for f in failed] == ["doomed question 13"]
    # the tasks' cache files were merged into the main cache (the Ray run started without one)
    cache = CompletionCache(tmp_path / "llm.sqlite")
    try:
        assert len(cache) == sent_locally - 1  # every answered call; the refused one is not
    finally:
        cache.close()
    # a rerun takes every answer from the cache: nothing reaches the server
    before = len(server.log)
    _run(recipe, tmp_path / "again", executor=RayExecutor())
    resent = [r.text for r in server.log[before:]]
    assert len(resent) == 1 and "doomed" in resent[0]  # only the call the server refused
    for name in ("train.jsonl", "test.jsonl", "rejects.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def _judged(server: FakeServer, since: int = 0) -> int:
    """Judge calls the server received (each paid ``TOKENS_PER_CALL`` tokens)."""
    return sum("Rate the assistant" in r.text or "分别打分" in r.text for r in server.log[since:])


def test_a_budget_stops_the_run_as_locally(tmp_path: Path, server: FakeServer) -> None:
    # one call at a time: the local run is deterministic, and so must Ray's be
    budget = 400
    recipe = _recipe(tmp_path, server, {"concurrency": 1, "max_tokens_budget": budget})
    _run(recipe, tmp_path / "local", workers=2)
    sent_locally = len(server.log)
    assert 0 < _judged(server) * TOKENS_PER_CALL <= budget
    _fresh_cache(tmp_path)
    _run(recipe, tmp_path / "ray", engine="ray")
    assert len(server.log) - sent_locally == sent_locally
    assert 2 * _judged(server, sent_locally) == _judged(server)  # as many judge calls as locally
    _same(tmp_path / "local", tmp_path / "ray")
    stopped = [r for r in _rejects(tmp_path / "ray") if "not run" in r["reason"]]
    assert stopped and all(
        r["reason"].startswith(f"llm failed: not run: token budget of {budget} reached")
        for r in stopped
    )
    # no budget: the judge resumes from the cache, calling only for the items not run (and the
    # one the server refused, if it was run); the outputs are those of a whole local run
    before = len(server.log)
    recipe = _recipe(tmp_path, server)
    _run(recipe, tmp_path / "full-ray", engine="ray")
    not_run = [r for r in stopped if r["op"] == "judge"]
    refused_again = not any("doomed" in orjson.dumps(r).decode() for r in not_run)
    assert _judged(server, before) == len(not_run) + refused_again
    _fresh_cache(tmp_path)
    _run(recipe, tmp_path / "full-local", workers=2)
    _same(tmp_path / "full-local", tmp_path / "full-ray", counts=False)  # cache hits differ


def test_one_budget_for_every_worker(tmp_path: Path, server: FakeServer) -> None:
    # several calls at once on two workers: which items finish first depends on timing (as
    # locally), but the run as a whole never spends more than the budget, and nothing is lost.
    # respond answers every sample with a short prompt (about 20 tokens reserved a call), so
    # each piece alone would fit under the budget: only a budget shared by all stops the run
    budget = 200
    recipe = _recipe(tmp_path, server)
    data = yaml.safe_load(recipe.read_text("utf-8"))
    llm = {**data["steps"][2]["respond"]["llm"], "concurrency": 4, "max_tokens_budget": budget}
    data["steps"] = [{"respond": {"mode": "all", "llm": llm}}, data["steps"][-1]]
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    res = _run(recipe, tmp_path / "ray", engine="ray")
    assert 0 < len(server.log) * TOKENS_PER_CALL <= budget < 28 * TOKENS_PER_CALL
    rejects = _rejects(tmp_path / "ray")
    stopped = [r for r in rejects if r["reason"].startswith("llm failed: not run: token budget")]
    assert len(stopped) == 28 - len(server.log)  # the others were answered (or refused)
    assert len({r["reason"].split(" (")[0] for r in stopped}) == 1  # one stop, one message
    out = sum(len((tmp_path / "ray" / n).read_bytes().splitlines()) for n in COMPARED[:2])
    assert out + len(rejects) == res.counts["read"] == 28


def test_a_worker_killed_in_an_llm_step_is_retried_with_identical_outputs(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _recipe(tmp_path, server)
    data = yaml.safe_load(recipe.read_text("utf-8"))
    data["steps"] = data["steps"][1:]
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    _run(recipe, tmp_path / "local", workers=2)
    _fresh_cache(tmp_path)
    marker = tmp_path / "killed"
    monkeypatch.setenv("SFTFORGE_TEST_RAY_KILL_LLM_ONCE", str(marker))
    _run(recipe, tmp_path / "ray", engine="ray")
    pid = int(marker.read_text())  # a worker running a judge piece SIGKILLed itself
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    _same(tmp_path / "local", tmp_path / "ray")


def test_a_worker_killed_past_its_retries_fails_with_one_line_and_resumes(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _recipe(tmp_path, server)
    data = yaml.safe_load(recipe.read_text("utf-8"))
    data["steps"] = [data["steps"][1], data["steps"][-1]]  # judge, split
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    monkeypatch.setenv("SFTFORGE_TEST_RAY_KILL_LLM_ONCE", str(tmp_path / "killed"))
    with pytest.raises(SftforgeError, match="judge: a Ray task making its LLM calls failed"):
        _run(recipe, tmp_path / "ray", executor=RayExecutor(retries=0))
    # the piece running beside the dead one finished, and its answers were merged into the
    # main cache; the resumed run asks only for the others
    assert not list((tmp_path / "ray" / ".work" / "llm-cache").rglob("part-*"))
    cache = CompletionCache(tmp_path / "llm.sqlite")
    cached = len(cache)
    cache.close()
    assert cached >= 3
    fetched = len(server.log)
    monkeypatch.delenv("SFTFORGE_TEST_RAY_KILL_LLM_ONCE")
    _run(recipe, tmp_path / "ray", engine="ray")
    assert _judged(server, fetched) == 28 - cached
    _fresh_cache(tmp_path)
    _run(recipe, tmp_path / "local", workers=2)
    _same(tmp_path / "local", tmp_path / "ray", counts=False)


@pytest.mark.parametrize(("cpus", "concurrency"), [(2, 8), (8, 3), (16, 1), (3, 100)])
def test_the_concurrency_shares_never_add_up_to_more(cpus: int, concurrency: int) -> None:
    slots, share = limit_shares(LLMConfig(model="m", concurrency=concurrency), cpus)
    assert 1 <= slots <= cpus
    assert 1 <= slots * share["concurrency"] <= concurrency


def test_the_run_keeps_to_rpm_across_workers(tmp_path: Path, server: FakeServer) -> None:
    # rpm 4 a second for the run, two workers, eight short pieces. Any 0.75 s of arrivals holds at
    # most 4 calls (5 would need 0.25 s of network jitter); a limiter per task would send more
    recipe = _recipe(tmp_path, server)
    data = yaml.safe_load(recipe.read_text("utf-8"))
    llm = {**data["steps"][2]["respond"]["llm"], "rpm": 4, "window": 1.0}
    data["steps"] = [{"respond": {"mode": "all", "llm": llm}}, data["steps"][-1]]
    data["inputs"] = [{"path": "few.jsonl", "name": "raw"}]
    (tmp_path / "few.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in _samples()[:10]))
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    _run(recipe, tmp_path / "ray", engine="ray")
    times = sorted(r.t for r in server.log)
    assert len(times) == 10
    assert all(times[i + 4] - times[i] > 0.75 for i in range(len(times) - 4))


def test_a_tasks_cache_reads_the_snapshot_and_merges(tmp_path: Path) -> None:
    main = CompletionCache(tmp_path / "main.sqlite")
    main.put("a", Completion("answer a", usage=Usage(1, 2)))
    main.snapshot(tmp_path / "copy.sqlite")
    part = CompletionCache(tmp_path / "part.sqlite", fallback=tmp_path / "copy.sqlite")
    hit = part.get("a")
    assert hit is not None and hit.text == "answer a" and hit.cached
    part.put("b", Completion("答案 b", usage=Usage(3, 4)))
    assert len(part) == 1 and main.get("b") is None  # a task writes only its own file
    part.close()
    assert main.merge_from(tmp_path / "part.sqlite") == 1
    merged = main.get("b")
    assert merged is not None and merged.text == "答案 b" and len(main) == 2
    main.close()
