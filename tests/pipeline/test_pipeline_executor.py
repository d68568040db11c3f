"""The local executor: order, worker-count independence, global ops, splits and the invariant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_helpers import make_samples, read_rows

from sftforge.errors import RecipeError, SftforgeError
from sftforge.ops.base import OPS
from sftforge.pipeline import run_recipe
from sftforge.pipeline.recipe import load_ops


def test_order_is_kept_through_a_pool(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    res = run_recipe(write_recipe([{"t_strip": {"suffix": "."}}]), tmp_path / "run", workers=2)
    got = [r["messages"][0]["content"] for r in read_rows(res.outputs["train"])]
    assert got == [f"question {i} 问题." for i in range(60)]
    assert [r["op"] for r in read_rows(res.rejects)] == ["read"]


@pytest.mark.parametrize("chunk_size", [1, 8, 1000])
def test_outputs_do_not_depend_on_worker_count(
    write_recipe: Callable[..., Path], tmp_path: Path, chunk_size: int
) -> None:
    recipe = write_recipe(chunk_size=chunk_size)
    one = run_recipe(recipe, tmp_path / "w1", workers=1)
    two = run_recipe(recipe, tmp_path / "w2", workers=2)
    assert one.outputs["train"].read_bytes() == two.outputs["train"].read_bytes()
    assert one.rejects.read_bytes() == two.rejects.read_bytes()
    assert one.counts == two.counts


def test_funnel_counts_and_rejects(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    res = run_recipe(write_recipe(), tmp_path / "run", workers=1)
    # 60 samples + 1 broken line; answers empty for i % 7 == 3 (9 of them); 11 distinct answers
    assert res.counts == {
        "read": 61,
        "kept": 11,
        "rejected": 50,
        "added": 0,
        "per_input": {"raw": {"read": 61, "kept": 11, "rejected": 50}},
    }
    rows = read_rows(res.rejects)
    assert [(r["op"], r["reason"]) for r in rows[:2]] == [
        ("t_minlen", "too_short"),
        ("read", rows[1]["reason"]),
    ]
    assert rows[1]["value"]["line"] == 11 and rows[1]["raw"] == '{"messages": [broken'
    dups = [r for r in rows if r["op"] == "t_dedup"]
    assert len(dups) == 40 and all(r["kept_id"] and r["value"] == 1.0 for r in dups)
    kept = read_rows(res.outputs["train"])
    assert kept[0]["messages"][1]["content"] == "answer 0 回答!"
    assert kept[0]["meta"] == {"source": "raw", "row": 1, "stats": {"answer_chars": 11}}


def test_two_inputs_are_counted_apart(
    write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path
) -> None:
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"".join(s.to_json() + b"\n" for s in make_samples(5)))
    inputs = [{"path": raw_file.name, "name": "raw"}, {"path": other.name, "name": "other"}]
    res = run_recipe(write_recipe([{"t_minlen": {}}], inputs=inputs), tmp_path / "run")
    assert res.counts["per_input"] == {
        "raw": {"read": 61, "kept": 51, "rejected": 10},
        "other": {"read": 5, "kept": 4, "rejected": 1},
    }


def test_splits_go_to_their_outputs(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    outputs = {
        "train": {"format": "sftforge", "path": "train.jsonl"},
        "test": {"format": "sftforge", "path": "sub/test.jsonl"},
    }
    res = run_recipe(write_recipe(["t_split"], outputs=outputs), tmp_path / "run", workers=2)
    assert len(read_rows(res.outputs["train"])) == 40
    test_rows = read_rows(tmp_path / "run" / "sub" / "test.jsonl")
    assert [r["messages"][0]["content"] for r in test_rows[:2]] == [
        " question 0 问题 ",
        " question 3 问题 ",
    ]


def test_several_outputs_need_a_split_step(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    outputs = {"train": {"format": "sftforge"}, "test": {"format": "sftforge"}}
    with pytest.raises(RecipeError, match="outputs name 2 splits \\(train, test\\) but no step"):
        run_recipe(write_recipe([], outputs=outputs), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_added_samples_are_accounted_apart(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    res = run_recipe(write_recipe(["t_upsample", {"t_minlen": {}}]), tmp_path / "run", workers=2)
    assert res.counts == {
        "read": 61,
        "kept": 102,
        "rejected": 19,  # 1 unreadable + 9 short originals + their 9 copies
        "added": 60,
        "per_input": {"raw": {"read": 61, "kept": 51, "rejected": 10}},
    }


def test_a_lost_sample_fails_the_run(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(SftforgeError) as info:
        run_recipe(write_recipe(["t_liar"]), tmp_path / "run")
    assert str(info.value) == (
        "operator 't_liar' took 60 samples, dropped 0 and declared 0 added, but yielded 59."
        " Fix: a global operator must report every drop and count what it adds in"
        " counters.extra (added, upsampled, generated)"
    )


def test_missing_input_is_one_clear_error(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    recipe = write_recipe(inputs=[{"path": "nope.jsonl"}])
    with pytest.raises(RecipeError) as info:
        run_recipe(recipe, tmp_path / "run")
    assert str(info.value) == (
        f"{tmp_path / 'nope.jsonl'}: cannot read input: no such file or folder [errno 2]."
        " Fix: check the path"
    )


def test_inputs_are_mixed_by_count(
    write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path
) -> None:
    load_ops()
    if "mix" not in OPS:
        pytest.skip("the mix operator is not in this build")
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"".join(s.to_json() + b"\n" for s in make_samples(5)))
    inputs = [
        {"path": raw_file.name, "name": "raw", "count": 20},
        {"path": other.name, "name": "other", "count": 10},
    ]
    res = run_recipe(write_recipe([], inputs=inputs, seed=5), tmp_path / "run", workers=2)
    assert res.counts == {
        "read": 66,
        "kept": 30,
        "rejected": 41,  # 40 not drawn + the broken line
        "added": 5,  # each of the 5 'other' samples once more
        "per_input": {
            "raw": {"read": 61, "kept": 20, "rejected": 41},
            "other": {"read": 5, "kept": 5, "rejected": 0},
        },
    }
    lock = (tmp_path / "run" / "recipe.lock.yaml").read_text(encoding="utf-8")
    assert "mix:\n      ratios: null\n      weights: null\n      counts:\n        raw: 20\n" in lock
    manifest = read_rows(tmp_path / "run" / "manifest-step1-mix.jsonl")
    assert len(manifest) == 65 + 5 and sum(1 for m in manifest if "copy_of" in m) == 5


@pytest.mark.parametrize("workers", [1, 2])
def test_operator_errors_reach_the_caller_whole(
    write_recipe: Callable[..., Path], tmp_path: Path, workers: int
) -> None:
    with pytest.raises(SftforgeError) as info:
        run_recipe(write_recipe(["t_needs_pkg"]), tmp_path / "run", workers=workers)
    assert str(info.value) == (
        "the test operator needs the package 'nopkg', which is not installed."
        " Fix: pip install 'sftforge[extra]'  (or: pip install nopkg)"
    )
