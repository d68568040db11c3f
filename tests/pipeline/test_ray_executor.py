"""The Ray executor against the local one: the same recipe gives byte-identical outputs,
rejects and lock, and the same counts, on a local Ray (2 CPUs) started once for this module;
a worker killed mid-stage is retried, a killed driver resumes, with the same bytes."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from pipeline_helpers import read_rows, run_cli

from sftforge.errors import RecipeError, SftforgeError
from sftforge.pipeline import ray_data, ray_executor, run_recipe
from sftforge.pipeline.ray_executor import RayExecutor
from sftforge.pipeline.ray_keyed import partitioned_drops
from sftforge.sample import Message, Sample

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("train.jsonl", "test.jsonl", "rejects.jsonl", "recipe.lock.yaml")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray for the module (starting one costs seconds and ~1 GB)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


STORY = (
    "the old miller walks along the river bank every evening counting the boats that pass his"
    " mill and waving at the children who play near the water"
)
GUSHI = "老磨坊主每天傍晚沿着河岸散步数着经过磨坊的船只向在水边玩耍的孩子们挥手致意"


def _samples(lang: str, n: int) -> list[Sample]:
    """Exact twins (case, punctuation), near twins (one word or character changed), short,
    empty and distinct views, the twins of a sample far from it (other chunks)."""
    base = STORY if lang == "en" else GUSHI
    out: list[Sample] = []
    for i in range(n):
        k, kind = i % 20, i // 20 % 5
        if kind == 0:
            answer = f"{base} {k}"
        elif kind == 1:
            answer = f"{base.upper()} {k}!"
        elif kind == 2:
            answer = (
                base.replace(
                    "river" if lang == "en" else "河岸", "stream" if lang == "en" else "溪边"
                )
                + f" {k}"
            )
        elif kind == 3:
            answer = "ok" if k % 2 else "..."
        else:
            answer = f"answer {i} " + " ".join(str(i * j) for j in range(15))
        out.append(Sample([Message("user", f"{lang} question {k}"), Message("assistant", answer)]))
    return out


def _write(path: Path, samples: list[Sample]) -> None:
    path.write_bytes(b"\n".join(s.to_json() for s in samples) + b"\n")


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chat tests' tiny BPE tokenizer, built here (nothing is downloaded)."""
    sys.path.insert(0, str(ROOT / "tests" / "chat"))
    from chat_fixtures import build_bpe

    return Path(build_bpe(tmp_path_factory.mktemp("bpe")))


@pytest.fixture
def all_globals(tmp_path: Path, bpe_dir: Path) -> Path:
    """A recipe with every global operator that needs no model or server, keyed stages on a
    map key base and on a global one, with a map stage between global ones, and the tokenize
    step (its token counts and loss masks are in the outputs' meta)."""
    _write(tmp_path / "en.jsonl", _samples("en", 140))
    _write(tmp_path / "zh.jsonl", _samples("zh", 100))
    recipe = {
        "seed": 3,
        "chunk_size": 16,
        "inputs": [{"path": "en.jsonl", "name": "en"}, {"path": "zh.jsonl", "name": "zh"}],
        "steps": [
            {"clean": {}},
            {"dedup_exact": {"view": "whole", "keep": "longest"}},
            {"mix": {"counts": {"en": 50, "zh": 110}, "seed": 7}},
            {"dedup_exact": {"view": "answer"}},
            {"dedup_near": {"view": "whole", "threshold": 0.7, "ngram": 3}},
            {
                "dedup_near": {
                    "view": "answer",
                    "threshold": 0.6,
                    "ngram": 2,
                    "verify": "estimate",
                    "keep": "longest",
                }
            },
            {"shuffle": {"seed": 5, "bucket_size": 40}},
            {"length_filter": {"targets": "assistant", "min": 3}},
            {"sample": {"fraction": 0.9, "seed": 11}},
            {"head": {"n": 30}},
            {"tokenize": {"tokenizer": str(bpe_dir), "template": "chatml", "max_len": 64}},
            {"identity": {"model_name": "Forge", "author": "tests", "count": 4, "seed": 2}},
            {"split": {"ratios": {"train": 0.8, "test": 0.2}, "seed": 9}},
        ],
        "outputs": {
            "train": {"format": "sftforge", "path": "train.jsonl"},
            "test": {"format": "sftforge", "path": "test.jsonl"},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "qs")
    return tmp_path / "qs" / "recipe.yaml"


_TIMING = ("seconds", "throughput", "peak_rss_mb", "resumed_chunks")


def _counts(run: Path) -> dict[str, Any]:
    """The report without what depends on timing or the machine."""
    report = orjson.loads((run / "report.json").read_bytes())
    for key in ("sftforge", "seconds", "workers", "throughput", "peak_rss_mb"):
        report.pop(key)
    for row in [*report["steps"], *report["stages"]]:
        for key in _TIMING:
            row.pop(key, None)
    return dict(report)


def _same(local: Path, other: Path) -> None:
    for name in COMPARED:
        if (local / name).exists() or (other / name).exists():
            assert (local / name).read_bytes() == (other / name).read_bytes(), name
    assert _counts(local) == _counts(other)


@pytest.mark.parametrize("map_stages", ["data", "tasks"])
def test_quickstart_is_byte_identical_to_the_local_executor(
    quickstart: Path, tmp_path: Path, map_stages: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Map stages as Ray Data datasets and as plain Ray tasks (the default)."""
    local = run_recipe(quickstart, tmp_path / "local", workers=2)
    datasets: list[int] = []

    def spy(setup: Any, tasks: Any, *args: Any, **kwargs: Any) -> None:
        tasks = list(tasks)
        datasets.append(len(tasks))
        ray_data.run_chunks(setup, tasks, *args, **kwargs)

    monkeypatch.setattr(ray_executor, "run_chunks", spy)
    on_ray = run_recipe(quickstart, tmp_path / "ray", executor=RayExecutor(map_stages=map_stages))
    # with Ray Data, every chunk of the one map stage (the first) went through datasets
    stages = orjson.loads((tmp_path / "ray" / "report.json").read_bytes())["stages"]
    assert stages[0]["kind"] == "map" and all(st["kind"] == "global" for st in stages[1:])
    assert datasets == ([stages[0]["chunks"]] if map_stages == "data" else [])
    assert stages[0]["chunks"] > 1
    assert on_ray.counts == local.counts
    assert local.counts["rejected"] > 0 and local.counts["added"] == 4
    _same(tmp_path / "local", tmp_path / "ray")
    reasons = {r["reason"] for r in read_rows(tmp_path / "ray" / "rejects.jsonl")}
    assert {"exact_duplicate", "near_duplicate"} <= reasons


@pytest.mark.parametrize("parts", [1, 3])
def test_every_global_operator_is_byte_identical(
    all_globals: Path, tmp_path: Path, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = run_recipe(all_globals, tmp_path / "local", workers=2)
    seen: list[str] = []

    def spy(pool: Any, op: Any, *args: Any) -> Any:
        seen.append(op.name)
        return partitioned_drops(pool, op, *args)

    monkeypatch.setattr(ray_executor, "partitioned_drops", spy)
    on_ray = run_recipe(all_globals, tmp_path / "ray", executor=RayExecutor(parts=parts))
    # each dedup stage went through the parts on Ray, not the driver's ``choose``
    assert seen == ["dedup_exact", "dedup_exact", "dedup_near", "dedup_near"]
    assert on_ray.counts == local.counts
    _same(tmp_path / "local", tmp_path / "ray")
    rejects = read_rows(tmp_path / "ray" / "rejects.jsonl")
    ops = {r["op"] for r in rejects}
    # every dropping operator dropped something, so each one's parts really were compared
    assert {"dedup_exact", "dedup_near", "mix", "sample", "head", "length_filter"} <= ops
    near = [r for r in rejects if r["op"] == "dedup_near"]
    assert all(r["kept"] and r["kept_id"] for r in near)
    assert local.counts["added"] > 4  # mix upsampled copies and the identity set
    kept = read_rows(tmp_path / "ray" / "train.jsonl")
    assert any("tokens" in (row["meta"].get("stats") or {}) for row in kept)


def test_the_recipe_executor_key_and_the_engine_flag(all_globals: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(all_globals.read_text("utf-8"))
    data["executor"] = "ray"
    del data["steps"][2:]  # a short run
    del data["outputs"]["test"]
    recipe = all_globals.with_name("ray.yaml")
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    run_recipe(recipe, tmp_path / "ray")
    run_recipe(recipe, tmp_path / "local", workers=2, engine="local")
    _same(tmp_path / "local", tmp_path / "ray")
    report = orjson.loads((tmp_path / "ray" / "report.json").read_bytes())
    assert report["steps"]  # the report is written as in a local run
    data["executor"] = "spark"
    recipe.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(RecipeError, match="'executor' must be one of local, ray"):
        run_recipe(recipe, tmp_path / "bad")
    with pytest.raises(RecipeError, match="--address names a Ray cluster"):
        run_recipe(all_globals, tmp_path / "bad", engine="local", address="auto")


@pytest.mark.parametrize("map_stages", ["data", "tasks"])
def test_a_killed_worker_is_retried_with_identical_outputs(
    all_globals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, map_stages: str
) -> None:
    """The first task of the run (a chunk of the first map stage, in a Ray Data dataset or a
    Ray task) kills its worker."""
    monkeypatch.setenv("SFTFORGE_RAY_MAP_STAGES", map_stages)
    marker = tmp_path / "killed"
    monkeypatch.setenv("SFTFORGE_TEST_RAY_KILL_ONCE", str(marker))
    run_recipe(all_globals, tmp_path / "ray", engine="ray")
    # the first task's worker SIGKILLed itself and wrote its pid: it really died mid-stage
    pid = int(marker.read_text())
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    monkeypatch.delenv("SFTFORGE_TEST_RAY_KILL_ONCE")
    run_recipe(all_globals, tmp_path / "local", workers=2)
    _same(tmp_path / "local", tmp_path / "ray")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_driver_resumes_from_its_finished_stages(
    all_globals: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    args = ["run", str(all_globals), "-o", str(out), "--address", "auto"]
    first = run_cli(args, tmp_path, {"SFTFORGE_TEST_KILL_AFTER_STAGES": "4"})
    assert first.returncode == -signal.SIGKILL, first.stderr
    manifest = orjson.loads((out / ".work" / "manifest.json").read_bytes())
    finished = [s for s, v in manifest["stages"].items() if v["chunks"] is not None]
    assert len(finished) == 4
    again = run_cli(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "MB shuffled" in again.stderr  # the dedup stages after the kill ran on Ray
    assert "chunks resumed" in again.stderr or " resumed," in again.stderr, again.stderr
    run_recipe(all_globals, tmp_path / "local", workers=2)
    _same(tmp_path / "local", out)


def test_an_llm_step_runs_once_per_question_with_one_cache(tmp_path: Path) -> None:
    """One cache for the whole run: a Ray run after a local one finds every answer in the
    cache and sends no request (tests/pipeline/test_ray_llm.py has the rest)."""
    sys.path.insert(0, str(ROOT / "tests" / "llm"))
    from fakeserver import FakeServer

    server = FakeServer().start()
    try:
        questions = [Sample([Message("user", f"question {i} 问题 {i % 4}")]) for i in range(12)]
        _write(tmp_path / "q.jsonl", questions)
        llm = {"base_url": server.base_url, "model": "fake", "max_retries": 0}
        llm["cache"] = str(tmp_path / "llm.sqlite")
        recipe = {
            "chunk_size": 4,
            "inputs": [{"path": "q.jsonl", "name": "q"}],
            "steps": [{"respond": {"llm": llm}}, {"dedup_exact": {"view": "answer"}}],
            "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
        }
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
        run_recipe(path, tmp_path / "local", workers=2, allow_outside=True)
        assert len(server.log) == 12
        run_recipe(path, tmp_path / "ray", engine="ray", allow_outside=True)
        assert len(server.log) == 12  # every answer came from the cache
    finally:
        server.stop()
    for name in ("train.jsonl", "rejects.jsonl", "recipe.lock.yaml"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    # the report differs only in where the answers came from (the server, then the cache)
    assert _counts(tmp_path / "local")["counts"] == _counts(tmp_path / "ray")["counts"]
    answers = [r["messages"][-1]["content"] for r in read_rows(tmp_path / "ray" / "train.jsonl")]
    assert answers[0] == "ANSWER: question 0 问题 0" and len(answers) == 12


def test_a_worker_killed_past_its_retries_fails_resumably(
    all_globals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no retry left a dead worker fails the run with one line, like a broken local
    pool; the finished chunks are kept and the same run resumes to the same bytes."""
    monkeypatch.setenv("SFTFORGE_RAY_MAP_STAGES", "data")  # a Ray Data map task dies
    monkeypatch.setenv("SFTFORGE_TEST_RAY_KILL_ONCE", str(tmp_path / "killed"))
    with pytest.raises(SftforgeError, match="a worker process ended abruptly"):
        run_recipe(all_globals, tmp_path / "ray", executor=RayExecutor(retries=0))
    assert (tmp_path / "ray" / ".work" / "manifest.json").exists()
    monkeypatch.delenv("SFTFORGE_TEST_RAY_KILL_ONCE")
    run_recipe(all_globals, tmp_path / "ray", engine="ray")
    run_recipe(all_globals, tmp_path / "local", workers=2)
    _same(tmp_path / "local", tmp_path / "ray")


def test_an_operator_error_in_a_task_is_one_line(tmp_path: Path) -> None:
    """A tokenizer folder with no tokenizer fails in the Ray task that loads it: the CLI prints
    the operator's own one-line error, not Ray's traceback."""
    (tmp_path / "empty_tok").mkdir()
    _write(tmp_path / "q.jsonl", _samples("en", 8))
    recipe = {
        "inputs": [{"path": "q.jsonl"}],
        "steps": [{"tokenize": {"tokenizer": str(tmp_path / "empty_tok"), "template": "chatml"}}],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), "utf-8")
    args = ["run", str(path), "-o", str(tmp_path / "run"), "--address", "auto"]
    res = run_cli(args, tmp_path, {"SFTFORGE_RAY_MAP_STAGES": "data"})  # a Ray Data UDF's error
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "holds no tokenizer files" in lines[0], res.stderr
    assert "Traceback" not in res.stderr and "RayTaskError" not in res.stderr


@pytest.mark.parametrize("n", [0, 9])
def test_dedup_stages_with_nothing_left_to_decide(tmp_path: Path, n: int) -> None:
    """An empty input, or one whose every sample a filter dropped before the dedups."""
    _write(tmp_path / "q.jsonl", _samples("en", n)) if n else (tmp_path / "q.jsonl").touch()
    recipe = {
        "inputs": [{"path": "q.jsonl", "format": "sftforge"}],
        "steps": [
            {"length_filter": {"targets": "assistant", "min": 100000}},
            {"dedup_exact": {}},
            {"dedup_near": {}},
        ],
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), "utf-8")
    on_ray = run_recipe(path, tmp_path / "ray", engine="ray")
    local = run_recipe(path, tmp_path / "local", workers=2)
    assert on_ray.counts == local.counts and on_ray.counts["kept"] == 0
    _same(tmp_path / "local", tmp_path / "ray")
