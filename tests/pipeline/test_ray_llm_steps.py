"""The generate steps that used to make their calls in the driver (judge_pair, doc_qa,
backtranslate, self_instruct, the ``local`` provider) run in Ray tasks with the local executor's
outputs, and a prompt found in two pieces is sent once. The fake OpenAI-compatible server on
loopback counts requests; one local Ray (2 CPUs and one logical GPU: Ray hands it to the tasks
that ask for it, with no device behind it) for the module."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.errors import LLMError, SftforgeError
from sftforge.pipeline import ray_llm, run_recipe
from sftforge.pipeline.ray_executor import RayExecutor
from sftforge.pipeline.ray_pool import RayPool, WorkerSetup
from sftforge.sample import Message, Sample

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("train.jsonl", "rejects.jsonl", "recipe.lock.yaml", "failed.jsonl")


def _scripted() -> Any:
    """The generate tests' scripted model (tests/generate/conftest.py), loaded under a name of
    its own: it answers every prompt of every generator deterministically."""
    spec = importlib.util.spec_from_file_location(
        "ray_steps_scripted", ROOT / "tests" / "generate" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scripted


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = _scripted()
    srv.add("doomed", Reply(status=400, raw="no"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))


def _write(path: Path, samples: list[Sample]) -> None:
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in samples))


def _pairs() -> list[Sample]:
    """judge_pair groups: a prompt with a GOOD answer and others, spread over the input (the
    pieces are contiguous: a group must still be judged as one); a prompt with one answer."""
    out = []
    for k in range(3):
        for i in range(6):
            answer = f"GOOD answer {i} 好" if k == i % 3 else f"plain answer {i} 一般 {k}"
            out.append(
                Sample([Message("user", f"prompt {i} about rivers"), Message("assistant", answer)])
            )
    out.append(Sample([Message("user", "lonely prompt"), Message("assistant", "only answer")]))
    return out


def _project(tmp_path: Path, server: FakeServer) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"page{i}.md").write_text(
            f"# Page {i}\n\nOpen the app number {i}. Pick a file. Press start and wait.", "utf-8"
        )
    (docs / "broken.md").write_text("# Broken\n\nThis page is doomed to fail.", "utf-8")
    passages = [{"text": f"A good doc about river {i} and how it flows."} for i in range(3)]
    passages.append({"text": "A weak passage with little to say."})
    (tmp_path / "passages.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in passages), "utf-8"
    )
    seeds = [
        {"instruction": f"Give {i} tips for staying healthy.", "instances": []} for i in (2, 3)
    ]
    (tmp_path / "seeds.jsonl").write_text("".join(json.dumps(s) + "\n" for s in seeds), "utf-8")
    _write(tmp_path / "in.jsonl", _pairs())
    llm = {
        "base_url": server.base_url,
        "model": "fake",
        "cache": str(tmp_path / "llm.sqlite"),
        "max_retries": 0,
        "concurrency": 4,
    }
    failed = str(tmp_path / "failed.jsonl")
    recipe = {
        "chunk_size": 5,
        "inputs": [{"path": "in.jsonl", "name": "raw"}],
        "steps": [
            {"judge_pair": {"llm": llm}},
            {"doc_qa": {"documents": "docs", "per_tokens": 5, "llm": llm, "failed": failed}},
            {"backtranslate": {"documents": "passages.jsonl", "llm": llm}},
            {"self_instruct": {"seeds": "seeds.jsonl", "num_instructions": 6, "llm": llm}},
        ],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    return path


def _run(recipe: Path, out: Path, **kw: Any) -> Any:
    res = run_recipe(recipe, out, **kw)
    failed = recipe.parent / "failed.jsonl"
    if failed.exists():
        failed.rename(out / "failed.jsonl")
    return res


def _steps(run: Path) -> dict[str, dict[str, Any]]:
    """Each step's report row, timings left out."""
    report = orjson.loads((run / "report.json").read_bytes())
    rows = {}
    for row in report["steps"]:
        timing = ("seconds", "throughput", "peak_rss_mb")
        rows[row["op"]] = {k: v for k, v in row.items() if k not in timing}
    return rows


def _same(local: Path, other: Path) -> None:
    for name in COMPARED:
        assert (local / name).exists() == (other / name).exists(), name
        if (local / name).exists():
            assert (local / name).read_bytes() == (other / name).read_bytes(), name


def test_the_driver_steps_run_in_ray_tasks_with_identical_outputs(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _project(tmp_path, server)
    local = _run(recipe, tmp_path / "local", workers=2)
    sent_locally = len(server.log)
    for f in tmp_path.glob("llm.sqlite*"):
        f.unlink()  # Ray makes the calls itself
    tasks: list[str] = []
    submit = RayPool.submit

    gpus: set[float] = set()

    def spy(pool: RayPool, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is ray_llm.propose_piece:
            tasks.append("propose")
        elif fn is ray_llm.generate_piece:
            tasks.append(args[0])
        gpus.add(kwargs.get("gpus", 0))
        return submit(pool, fn, *args, **kwargs)

    monkeypatch.setattr(RayPool, "submit", spy)
    on_ray = _run(recipe, tmp_path / "ray", executor=RayExecutor())
    # every step's calls went to Ray tasks (as they were submitted)
    assert {"judge_pair", "doc_qa", "backtranslate", "propose", "self_instruct"} <= set(tasks)
    assert gpus == {0}  # an API provider's task holds no GPU, though the cluster has one
    assert tasks.count("judge_pair") > 1  # the groups were spread over several pieces
    assert on_ray.counts == local.counts
    _same(tmp_path / "local", tmp_path / "ray")
    assert _steps(tmp_path / "local") == _steps(tmp_path / "ray")
    assert len(server.log) - sent_locally == sent_locally  # the same calls, each once
    rows = [orjson.loads(x) for x in (tmp_path / "ray" / "train.jsonl").read_bytes().splitlines()]
    made = {r["meta"].get("generator") for r in rows}
    assert {"judge_pair", "doc_qa", "backtranslate", "self_instruct"} <= made
    pairs = [r for r in rows if r["meta"].get("generator") == "judge_pair"]
    assert len(pairs) == 6 and all("GOOD" in r["messages"][-1]["content"] for r in pairs)
    [fail] = [
        orjson.loads(x) for x in (tmp_path / "ray" / "failed.jsonl").read_bytes().splitlines()
    ]
    assert fail["task"] == "doc_qa" and "doomed" in fail["input"]["text"]


def test_a_prompt_in_two_pieces_is_sent_once(tmp_path: Path, server: FakeServer) -> None:
    """24 questions, 6 distinct, each repeated in other pieces (2 slots x 4 pieces a slot of 3
    questions each): with a cache, Ray sends each distinct prompt once, as a local run does."""
    _write(
        tmp_path / "in.jsonl",
        [Sample([Message("user", f"question {i % 6} 问题 {i % 6}")]) for i in range(24)],
    )
    llm = {"base_url": server.base_url, "model": "fake", "cache": str(tmp_path / "llm.sqlite")}
    recipe = {
        "inputs": [{"path": "in.jsonl", "name": "q"}],
        "steps": [{"respond": {"llm": {**llm, "concurrency": 2}}}],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    _run(path, tmp_path / "local", workers=2)
    assert len(server.log) == 6
    for f in tmp_path.glob("llm.sqlite*"):
        f.unlink()
    _run(path, tmp_path / "ray", engine="ray")
    assert len(server.log) == 12  # 6 more: each distinct prompt once, though in 8 pieces
    _same(tmp_path / "local", tmp_path / "ray")
    steps = _steps(tmp_path / "ray")["respond"]["extra"]
    assert (steps["llm_requests"], steps["llm_requests"] + steps["llm_cache_hits"]) == (6, 24)


@pytest.mark.slow  # torch in the driver and two Ray workers: ~50 s on a loaded 2-core machine
def test_the_local_provider_runs_in_ray_tasks(tmp_path: Path) -> None:
    """A local model (a tiny random Llama built here) loaded by the Ray tasks, one piece per
    task slot: the same answers as the local executor's."""
    pytest.importorskip("transformers")
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    _write(tmp_path / "in.jsonl", [Sample([Message("user", f"hello {i}")]) for i in range(6)])
    llm = {"provider": "local", "model": str(model), "device": "cpu", "concurrency": 2}
    llm |= {"params": {"max_tokens": 3}, "cache": None}
    recipe = {
        "inputs": [{"path": "in.jsonl", "name": "q"}],
        "steps": [{"respond": {"llm": llm}}],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    _run(path, tmp_path / "local", workers=2)
    _run(path, tmp_path / "ray", engine="ray")
    _same(tmp_path / "local", tmp_path / "ray")
    rows = [orjson.loads(x) for x in (tmp_path / "ray" / "train.jsonl").read_bytes().splitlines()]
    assert len(rows) == 6 and all(r["meta"]["llm"]["provider"] == "local" for r in rows)
    assert _steps(tmp_path / "ray")["respond"]["extra"]["llm_requests"] == 6
    # no device on a cluster with a GPU: each task holds the GPU, so the two run one after the
    # other (this machine has no CUDA: the model still runs on the CPU) with the same answers
    del llm["device"]
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    _run(path, tmp_path / "ray-gpu", engine="ray")
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (tmp_path / "ray-gpu" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


def test_a_local_model_task_holds_a_gpu_where_it_would_run_on_one() -> None:
    """``task_gpus``: the local provider's tasks hold one GPU for ``cuda``, or for no device on
    a cluster with GPUs; none for ``cpu`` or an API provider; ``cuda`` without GPUs is one line
    naming the fix."""
    local = {"provider": "local", "model": "m"}
    assert ray_llm.task_gpus(local, 2) == 1 and ray_llm.task_gpus(local, 0) == 0
    assert ray_llm.task_gpus({**local, "device": "cuda:1"}, 1) == 1
    assert ray_llm.task_gpus({**local, "device": "cpu"}, 4) == 0
    assert ray_llm.task_gpus({"provider": "openai", "model": "m"}, 4) == 0
    with pytest.raises(SftforgeError, match="has no GPU") as err:
        ray_llm.task_gpus({**local, "device": "cuda"}, 0)
    assert "llm.device: cpu" in (err.value.hint or "")


def test_a_ray_task_holds_the_gpus_it_asks_for() -> None:
    """``RayPool.submit(..., gpus=1)``: Ray gives the task the cluster's GPU (its id, and
    ``CUDA_VISIBLE_DEVICES`` for the model to pick); a task that asks for none gets none."""

    def visible() -> tuple[list[Any], str | None]:
        import os

        import ray as task_ray

        return list(task_ray.get_gpu_ids()), os.environ.get("CUDA_VISIBLE_DEVICES")

    pool = RayPool(WorkerSetup("gpu-test", [], [], [], None))
    try:
        ids, env = pool.submit(visible, gpus=1).result(timeout=120)
        assert [int(i) for i in ids] == [0] and env == "0"
        ids, env = pool.submit(visible).result(timeout=120)
        assert ids == [] and not env
    finally:
        pool.shutdown()


def test_the_prompt_ledger_never_leaves_a_claim_waiting() -> None:
    """The ledger's bookkeeping (a plain object here): the first claim sends, a second waits
    for the answer; a piece's retried attempt sends its claimed key itself; when a piece fails
    for good, the claims waiting on its keys claim them again (one of them sends)."""
    from sftforge.llm.types import Completion

    async def main() -> None:
        ledger = ray_llm.PromptLedger()
        assert await ledger.claim("k", "piece-1") == ("send", None)
        waiting = asyncio.ensure_future(ledger.claim("k", "piece-2"))
        await asyncio.sleep(0)
        assert not waiting.done()
        assert await ledger.claim("k", "piece-1") == ("send", None)  # a retried attempt
        ledger.publish("k", Completion("answer"))
        assert (await waiting)[1].text == "answer"
        assert (await ledger.claim("k", "piece-3"))[1].text == "answer"
        # a piece that failed for good: its waiting claims are not left hanging
        assert await ledger.claim("q", "piece-1") == ("send", None)
        second = asyncio.ensure_future(ledger.claim("q", "piece-2"))
        third = asyncio.ensure_future(ledger.claim("q", "piece-3"))
        await asyncio.sleep(0)
        ledger.abandon("piece-1")
        assert await second == ("send", None)  # the first waiting claim sends it now
        await asyncio.sleep(0)
        assert not third.done()  # and the other waits for that one
        ledger.failed("q", LLMError("HTTP 400"))
        kind, exc = await third
        assert kind == "error" and str(exc).startswith("HTTP 400")

    asyncio.run(main())
