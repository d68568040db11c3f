"""A Ray cluster of two nodes on this machine (``ray.cluster_utils.Cluster``, one CPU each):
a recipe with the distributed global operators and an LLM step gives the local executor's
bytes. The nodes share this machine's file system, as a cluster's nodes share the run folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer

from sftforge.pipeline import run_recipe
from sftforge.pipeline.ray_executor import RayExecutor
from sftforge.sample import Message, Sample

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COMPARED = ("train.jsonl", "test.jsonl", "rejects.jsonl", "recipe.lock.yaml")
STORY = "the miller walks along the river bank every evening counting the boats that pass"
GUSHI = "老磨坊主每天傍晚沿着河岸散步数着经过磨坊的船只"


# a recipe plugin whose mapper changes nothing and leaves a file named after the node (the
# raylet's environment, which its workers inherit) in PROBE_DIR: which nodes ran map chunks
PROBE = """
import os
from dataclasses import dataclass

from sftforge.ops.base import Mapper, register_op


@register_op("node_probe")
@dataclass(kw_only=True)
class NodeProbe(Mapper):
    def map(self, sample):
        node = os.environ.get("PROBE_NODE", "local")
        open(os.path.join(os.environ["PROBE_DIR"], f"{node}-{os.getpid()}"), "a").close()
        return sample
"""


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The cluster, and the folder its nodes' probes write to."""
    from ray.cluster_utils import Cluster

    plugin, probes = tmp_path_factory.mktemp("plugin"), tmp_path_factory.mktemp("probes")
    (plugin / "ray_node_probe.py").write_text(PROBE, "utf-8")
    path = [str(plugin), *(str(Path(p).resolve()) for p in sys.path if p.endswith("src"))]
    env = {"PYTHONPATH": os.pathsep.join(path), "PROBE_DIR": str(probes)}
    head = {"num_cpus": 1, "env_vars": {**env, "PROBE_NODE": "head"}}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    cluster.add_node(num_cpus=1, env_vars={**env, "PROBE_NODE": "second"})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    sys.path.insert(0, str(plugin))  # the driver and the local run import the plugin too
    os.environ["PROBE_DIR"] = str(probes)
    yield probes
    ray.shutdown()
    cluster.shutdown()
    os.environ.pop("PROBE_DIR", None)
    sys.path.remove(str(plugin))


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))


def _samples(n: int) -> list[Sample]:
    """Exact twins (case), near twins (one word), distinct answers; English and Chinese."""
    out = []
    for i in range(n):
        base, k = (STORY, i % 7) if i % 2 else (GUSHI, i % 5)
        kind = i // 14 % 3
        answer = {0: f"{base} {k}", 1: f"{base.upper()} {k}", 2: f"{base} 新 {k}"}[kind]
        if i % 9 == 0:
            answer = f"distinct answer {i} " + " ".join(str(i * j) for j in range(12))
        out.append(
            Sample([Message("user", f"question {i % 11} 问题"), Message("assistant", answer)])
        )
    return out


# two raylets to start, then a recipe run on each engine: 16 s on a 2-core machine at load 3
# (5 s of it the cluster's start), 50-59 s at load 15-20
def test_two_nodes_give_the_local_bytes(
    two_nodes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [n["Resources"]["CPU"] for n in ray.nodes() if n["Alive"]] == [1.0, 1.0]
    server = FakeServer().start()
    try:
        (tmp_path / "in.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in _samples(90)))
        llm = {"base_url": server.base_url, "model": "fake", "max_retries": 0}
        llm["cache"] = str(tmp_path / "llm.sqlite")
        recipe = {
            "seed": 1,
            "chunk_size": 12,
            "plugins": ["ray_node_probe"],
            "inputs": [{"path": "in.jsonl", "name": "raw"}],
            "steps": [
                {"clean": {}},
                {"node_probe": {}},
                {"dedup_exact": {"view": "answer"}},
                {"dedup_near": {"view": "answer", "threshold": 0.7, "ngram": 3}},
                {"respond": {"mode": "all", "llm": llm}},
                {"length_filter": {"targets": "assistant", "min": 5}},
                {"split": {"ratios": {"train": 0.8, "test": 0.2}, "seed": 3}},
            ],
            "outputs": {
                "train": {"format": "sftforge", "path": "train.jsonl"},
                "test": {"format": "sftforge", "path": "test.jsonl"},
            },
        }
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
        local = run_recipe(path, tmp_path / "local", workers=2, allow_outside=True)
        assert {p.name.split("-")[0] for p in two_nodes.iterdir()} == {"local"}
        for p in two_nodes.iterdir():
            p.unlink()
        sent = len(server.log)
        for f in tmp_path.glob("llm.sqlite*"):
            f.unlink()  # the cluster makes the calls itself
        monkeypatch.setenv("SFTFORGE_RAY_MAP_STAGES", "data")  # the map stage as Ray Data
        on_ray = run_recipe(path, tmp_path / "ray", executor=RayExecutor(), allow_outside=True)
        assert len(server.log) == 2 * sent  # the same calls, each once
    finally:
        server.stop()
    assert on_ray.counts == local.counts
    for name in COMPARED:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    rejects = [
        orjson.loads(x) for x in (tmp_path / "ray" / "rejects.jsonl").read_bytes().split(b"\n") if x
    ]
    assert {"dedup_exact", "dedup_near"} <= {r["op"] for r in rejects}
    # map chunks ran on both nodes (each node's workers left their files)
    assert {p.name.split("-")[0] for p in two_nodes.iterdir()} == {"head", "second"}
    report = orjson.loads((tmp_path / "ray" / "report.json").read_bytes())
    assert report["workers"] == 2  # the cluster's CPUs, one a node
