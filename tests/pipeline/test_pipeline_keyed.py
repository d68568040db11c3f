"""Keyed global operators (dedup): keys from the workers, decisions in the parent, kept samples
copied as bytes. The outputs must equal the two-pass reference path (``GlobalOp.run``) whatever
the worker count, chunking or interruptions."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from pipeline_helpers import read_rows, run_cli

from sftforge.ops.base import OPS, build_op
from sftforge.ops.dedup.text import view_tokens
from sftforge.pipeline import LocalExecutor, run_recipe
from sftforge.pipeline.plan import plan_stages
from sftforge.pipeline.recipe import load_ops
from sftforge.sample import Message, Sample

STORY = (
    "the old miller walks along the river bank every evening counting the boats that pass his"
    " mill and waving at the children who play near the water"
)
WORDS = STORY.split()


def _samples() -> list[Sample]:
    """Exact twins (after normalisation), near twins (one word changed), short and empty
    views, distinct samples, in an order that puts twins in different chunks."""
    out: list[Sample] = []
    for i in range(48):
        kind = i % 6
        if kind == 0:
            user = f"Tell story {i // 6}"
            answer = STORY.replace("miller", f"miller number {i // 6}")
        elif kind == 1:  # an exact twin of the story 2 samples back (case and punctuation)
            user = f"tell, STORY {(i - 1) // 6}!"
            answer = STORY.replace("miller", f"Miller number {(i - 1) // 6}").upper()
        elif kind == 2:  # a near twin: one word changed
            words = list(WORDS)
            words[3 + i % 10] = "zzz"
            user = f"Tell story {(i - 2) // 6}"
            answer = " ".join(words).replace("miller", f"miller number {(i - 2) // 6}")
        elif kind == 3:  # a short answer, repeated (near dedup looks at answers)
            user, answer = f"hi {i}", "hello"
        elif kind == 4:  # something else entirely, different every time
            user = f"question {i} about {' '.join(str(i * k) for k in range(12))}"
            answer = f"answer {i} " + " ".join(reversed(WORDS))
        else:
            user, answer = f"q{i}", "  ..."  # ends up nearly empty after normalisation
        out.append(Sample([Message("user", user), Message("assistant", answer)]))
    return out


@pytest.fixture
def dup_file(tmp_path: Path) -> Path:
    path = tmp_path / "dups.jsonl"
    path.write_bytes(b"\n".join(s.to_json() for s in _samples()) + b"\n")
    return path


def _recipe(tmp_path: Path, dup_file: Path, steps: list[Any], chunk_size: int = 5) -> Path:
    recipe = {
        "plugins": ["pipeline_testops"],
        "chunk_size": chunk_size,
        "inputs": [{"path": dup_file.name, "name": "dups"}],
        "steps": steps,
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


DEDUP = [
    {"t_strip": {"targets": "all"}},
    {"dedup_exact": {}},
    {"dedup_near": {"threshold": 0.7, "ngram": 3, "view": "answer"}},
    {"t_strip": {"suffix": "!", "targets": "assistant"}},
]


def _outputs(out: Path) -> tuple[bytes, bytes, Any]:
    report = orjson.loads((out / "report.json").read_bytes())
    steps = [{k: s[k] for k in ("op", "seen", "kept", "dropped", "extra")} for s in report["steps"]]
    stages = [{k: s[k] for k in ("in", "out", "rejected")} for s in report["stages"]]
    return (
        (out / "train.jsonl").read_bytes(),
        (out / "rejects.jsonl").read_bytes(),
        [report["counts"], steps, stages, report["dedup_clusters"]],
    )


def test_the_plan_finds_the_key_base() -> None:
    steps: list[Any] = [
        "t_strip",
        "dedup_exact",
        "dedup_near",
        "t_strip",
        "dedup_exact",
        "t_split",
        "dedup_near",
        "t_dedup",
    ]
    load_ops()
    import pipeline_testops  # noqa: F401 - registers the t_* operators

    ops = [build_op(s) for s in steps]
    stages = plan_stages(ops)
    got = [(st.kind, st.steps, st.key_base, st.key_steps) for st in stages]
    assert got == [
        ("map", [0], None, [1, 2]),  # both dedups' keys come with the first map stage
        ("global", [1], 0, []),
        ("global", [2], 0, []),
        ("map", [3], None, [4]),
        ("global", [4], 3, []),
        ("global", [5], None, [6]),  # t_split is not keyed: the dedup after it keys its output
        ("global", [6], 5, []),
        ("global", [7], None, []),  # t_dedup only has run()
    ]
    assert OPS["dedup_exact"].keyed() and not OPS["t_dedup"].keyed()


@pytest.mark.parametrize("chunk_size", [1, 5, 1000])
def test_keyed_path_equals_the_reference_path(
    tmp_path: Path, dup_file: Path, chunk_size: int
) -> None:
    recipe = _recipe(tmp_path, dup_file, DEDUP, chunk_size)
    ref = run_recipe(recipe, tmp_path / "ref", executor=LocalExecutor(1, keyed=False))
    one = run_recipe(recipe, tmp_path / "one", workers=1)
    two = run_recipe(recipe, tmp_path / "two", workers=2)
    assert _outputs(one.out_dir) == _outputs(ref.out_dir) == _outputs(two.out_dir)
    # the recipe really exercises both operators
    ops = [r["op"] for r in read_rows(ref.rejects)]
    assert ops.count("dedup_exact") >= 8 and ops.count("dedup_near") >= 6


@pytest.mark.parametrize("budget", [256, 1e-4])
def test_a_keyed_plugin_fetches_the_rows_that_reach_it(
    tmp_path: Path, dup_file: Path, budget: float
) -> None:
    """A keyed operator after a dedup asks ``fetch`` for samples by position: positions
    map to the key base rows the dedup left (read from their dropped rows), and its plain
    ``Drop``s (twin by position or by id) come out as the reference path's."""
    steps = [*DEDUP[:2], {"t_fetch_drop": {"word": "the"}}, DEDUP[2]]
    recipe = _recipe(tmp_path, dup_file, steps, 5)
    ref = run_recipe(recipe, tmp_path / "ref", executor=LocalExecutor(1, keyed=False))
    got = run_recipe(recipe, tmp_path / "got", executor=LocalExecutor(2, memory_budget_mb=budget))
    assert _outputs(got.out_dir) == _outputs(ref.out_dir)
    fetched = [r for r in read_rows(ref.rejects) if r["op"] == "t_fetch_drop"]
    assert len(fetched) >= 4
    assert {"kept" in r for r in fetched} == {True, False}  # by position and by id alone


def test_dedup_rejects_name_their_kept_twin(tmp_path: Path, dup_file: Path) -> None:
    res = run_recipe(_recipe(tmp_path, dup_file, DEDUP[:3]), tmp_path / "run", workers=2)
    kept = read_rows(res.outputs["train"])
    rejects = read_rows(res.rejects)
    rows = [r for r in rejects if r["op"].startswith("dedup")]
    reasons = {r["reason"] for r in rows}
    assert reasons == {"exact_duplicate", "near_duplicate", "short_exact_duplicate"}
    order = ["dedup_exact", "dedup_near"]
    for r in rows:
        # the twin got through this operator (kept to the end, or dropped by a later one) and
        # came before the duplicate (keep: first)
        later = order[order.index(r["op"]) + 1 :]
        survivors = [k for k in kept] + [x["sample"] for x in rejects if x["op"] in later]
        twin_rows = [k["meta"]["row"] for k in survivors if k["id"] == r["kept_id"]]
        assert twin_rows and min(twin_rows) < r["sample"]["meta"]["row"]
        assert 0.7 <= r["value"] <= 1.0
    exact = [r for r in rows if r["reason"] == "exact_duplicate"]
    assert exact and all(r["value"] == 1.0 for r in exact)
    # every input is kept or rejected once, and the rejects carry whole samples
    assert len(kept) + len(rejects) == 48
    assert all(r["sample"]["meta"]["source"] == "dups" for r in rows)


def test_keys_of_a_global_stage_come_from_a_pass_over_its_chunks(
    tmp_path: Path, dup_file: Path
) -> None:
    steps = [
        {"t_split": {"every": 4}},
        {"dedup_exact": {}},
        {"dedup_near": {"threshold": 0.7, "ngram": 3, "keep": "longest"}},
    ]
    recipe = _recipe(tmp_path, dup_file, steps)
    recipe_yaml = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    recipe_yaml["outputs"] = {
        "train": {"format": "sftforge", "path": "train.jsonl"},
        "test": {"format": "sftforge", "path": "test.jsonl"},
    }
    recipe.write_text(yaml.safe_dump(recipe_yaml, sort_keys=False), encoding="utf-8")
    ref = run_recipe(recipe, tmp_path / "ref", executor=LocalExecutor(1, keyed=False))
    for workers in (1, 2):
        got = run_recipe(recipe, tmp_path / f"w{workers}", workers=workers)
        for name in ("train.jsonl", "test.jsonl", "rejects.jsonl"):
            assert (got.out_dir / name).read_bytes() == (ref.out_dir / name).read_bytes()
        assert got.counts == ref.counts


def test_keyed_stage_output_keeps_chunk_files_that_lost_nothing(
    tmp_path: Path, dup_file: Path
) -> None:
    """A chunk with no drop is linked (or copied) whole; one with drops loses exactly those."""
    recipe = _recipe(tmp_path, dup_file, ["dedup_exact"], chunk_size=6)
    res = run_recipe(recipe, tmp_path / "run", workers=1)
    rows = read_rows(res.outputs["train"])
    rejected_rows = {r["sample"]["meta"]["row"] for r in read_rows(res.rejects)}
    assert [r["meta"]["row"] for r in rows] == [i for i in range(1, 49) if i not in rejected_rows]


# 48 samples in chunks of 5: stage 0 (10 chunks, keys included), dedup_exact, dedup_near, then
# a map stage; kills inside stage 0, between the two keyed stages, and in the last map stage
@pytest.mark.parametrize(
    ("hook", "value", "workers"),
    [
        ("CHUNKS", "4", "2"),
        ("STAGES", "2", "2"),  # dedup_exact done (dropped.jsonl written), dedup_near not
        ("STAGES", "2", "1"),
        ("STAGES", "1", "1"),  # stage 0 done, no keyed stage yet
        ("CHUNKS", "12", "2"),  # 10 chunks of stage 0, then 2 of the last map stage
    ],
)
def test_kill_and_resume_with_keyed_stages_is_byte_identical(
    tmp_path: Path, dup_file: Path, hook: str, value: str, workers: str
) -> None:
    recipe = _recipe(tmp_path, dup_file, DEDUP)
    clean = run_cli(["run", str(recipe), "-o", "clean", "-w", workers], tmp_path, {})
    assert clean.returncode == 0, clean.stderr
    killed = run_cli(
        ["run", str(recipe), "-o", "killed", "-w", workers],
        tmp_path,
        {f"SFTFORGE_TEST_KILL_AFTER_{hook}": value},
    )
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "train.jsonl").exists()
    resumed = run_cli(["run", str(recipe), "-o", "killed", "-w", workers], tmp_path, {})
    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(tmp_path / "killed") == _outputs(tmp_path / "clean")
    report = orjson.loads((tmp_path / "killed" / "report.json").read_bytes())
    resumed_chunks = sum(s["resumed_chunks"] for s in report["stages"])
    assert resumed_chunks == (int(value) if hook == "CHUNKS" else 10)


def test_only_a_complete_keys_choose_pair_is_keyed() -> None:
    from sftforge.ops.base import GlobalOp
    from sftforge.ops.dedup import NearDedup

    class OwnRun(NearDedup):  # a subclass that changes run() keeps its run()
        def run(self, source, reject):  # type: ignore[no-untyped-def]
            return super().run(source, reject)

    class KeysOnly(GlobalOp):
        def keys(self, samples, memo):  # type: ignore[no-untyped-def]
            return {}

    assert NearDedup.keyed() and not OwnRun.keyed() and not KeysOnly.keyed()
    assert not GlobalOp.keyed()


def test_without_hard_links_kept_chunks_are_copied(
    tmp_path: Path, dup_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError("links not supported here")

    recipe = _recipe(tmp_path, dup_file, DEDUP)
    ref = run_recipe(recipe, tmp_path / "ref", workers=1)
    monkeypatch.setattr(os, "link", no_link)
    got = run_recipe(recipe, tmp_path / "got", workers=1)
    assert _outputs(got.out_dir) == _outputs(ref.out_dir)


@pytest.mark.parametrize("run", ["reference", "workers=1", "workers=2"])
def test_dedup_rejects_locate_their_kept_twin(tmp_path: Path, run: str) -> None:
    """``kept`` names the twin's input and row, even where identical records share an id."""
    samples = _samples()
    samples += [Sample.from_dict(samples[i].to_dict()) for i in (0, 4, 12, 0)]  # identical
    path = tmp_path / "dups.jsonl"
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in samples))
    recipe = _recipe(tmp_path, path, DEDUP[1:3])
    executor = LocalExecutor(1, keyed=False) if run == "reference" else None
    workers = int(run.partition("=")[2] or 1)
    res = run_recipe(recipe, tmp_path / "run", workers=workers, executor=executor)
    by_row = {i: s.to_dict() for i, s in enumerate(samples, 1)}
    rejects = read_rows(res.rejects)
    dropped = {r["sample"]["meta"]["row"]: r["op"] for r in rejects}
    rows = [r for r in rejects if r["op"].startswith("dedup")]
    assert len(rows) == len(rejects) >= 14
    for r in rows:
        own, twin = r["sample"]["meta"]["row"], r["kept"]["row"]
        assert r["kept"] == {"source": "dups", "row": twin} and twin != own
        assert by_row[twin]["id"] == r["kept_id"]
        # the twin got through this operator (kept, or dropped by the next one)
        assert twin not in dropped or (r["op"], dropped[twin]) == ("dedup_exact", "dedup_near")
        if r["reason"] == "exact_duplicate":
            pair = [Sample.from_dict(by_row[twin]), Sample.from_dict(by_row[own])]
            a, b = view_tokens(pair, "whole", {})
            assert a == b
    # an identical record: its kept_id is its own id, its kept row is the first occurrence
    copies = {r["sample"]["meta"]["row"]: r for r in rows if r["sample"]["meta"]["row"] > 48}
    assert [(row, r["kept"]["row"]) for row, r in sorted(copies.items())] == [
        (49, 1),
        (50, 5),
        (51, 13),
        (52, 1),
    ]
    assert all(r["kept_id"] == r["sample"]["id"] for r in copies.values())


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_a_tiny_memory_budget_spills_and_changes_nothing(
    tmp_path: Path, dup_file: Path, keep: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``memory_budget_mb`` the keys, bucket tables, shingle sets, drops and twins go to
    files: the same kept and rejected records, reasons, twins and cluster counts as in memory."""
    from sftforge.ops.dedup import spill

    steps = [
        {"dedup_exact": {"keep": keep}},
        {"dedup_near": {"threshold": 0.7, "ngram": 3, "view": "answer", "keep": keep}},
        {"dedup_near": {"threshold": 0.7, "ngram": 3, "verify": "estimate"}},
    ]
    recipe = _recipe(tmp_path, dup_file, steps, 7)
    files: list[str] = []
    real_path = spill.Spill.path

    def counted(self: spill.Spill, stem: str) -> Path:
        files.append(stem)
        return real_path(self, stem)

    ref = run_recipe(recipe, tmp_path / "ref", executor=LocalExecutor(1))
    assert files == []  # nothing passes the default budget here
    monkeypatch.setattr(spill.Spill, "path", counted)
    monkeypatch.setattr(spill, "BLOCK_ROWS", 4)  # and columns are read in many blocks
    tiny = run_recipe(recipe, tmp_path / "tiny", executor=LocalExecutor(2, memory_budget_mb=1e-4))
    assert _outputs(tiny.out_dir) == _outputs(ref.out_dir)
    # every kind of spill file was written, and none is left behind
    assert {"key-key", "key-bands", "key-sig", "buckets", "key-shingle_set@values"} <= set(files)
    # and so did what grew with the data beside the keys: the drops (sorted runs, then the
    # table), the twins counted and looked up, a band's hash parts and ids, the sets' offsets
    spilled = {"drop-runs0", "drops0", "twin-runs0", "twin-key", "band-part0", "band-ids0"}
    assert spilled | {"offsets"} <= set(files)
    assert not list((tmp_path / "tiny").rglob("spill"))
    ops = [r["op"] for r in read_rows(ref.rejects)]
    assert ops.count("dedup_exact") >= 8 and ops.count("dedup_near") >= 6


def test_the_recipe_sets_the_memory_budget(tmp_path: Path, dup_file: Path) -> None:
    from sftforge.pipeline.recipe import load_recipe

    path = _recipe(tmp_path, dup_file, [{"dedup_exact": {}}])
    assert load_recipe(path).memory_budget_mb == 256
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["memory_budget_mb"] = 64
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_recipe(path).memory_budget_mb == 64
    data["memory_budget_mb"] = 0
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(Exception, match="memory_budget_mb"):
        load_recipe(path)
