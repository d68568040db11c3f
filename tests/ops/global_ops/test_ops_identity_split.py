"""The identity set stays in the train split, before or after ``split`` (issue 16, problem 7)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.pipeline.run import run_recipe
from sftforge.sample import Message, Sample

OUTPUTS = {
    "train": {"format": "sftforge", "path": "train.jsonl"},
    "validation": {"format": "sftforge", "path": "validation.jsonl"},
}
SPLIT = {"split": {"ratios": {"train": 0.5, "validation": 0.5}, "near_dup_threshold": None}}


def _recipe(tmp_path: Path, steps: list[Any], outputs: dict[str, Any] = OUTPUTS) -> Path:
    rows = [
        Sample([Message("user", f"问题 {i} q"), Message("assistant", f"答 {i}")]) for i in range(40)
    ]
    (tmp_path / "in.jsonl").write_text(
        "".join(s.to_json().decode() + "\n" for s in rows), encoding="utf-8"
    )
    recipe = {"inputs": ["in.jsonl"], "steps": steps, "outputs": outputs}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _sources(path: Path) -> Counter[str]:
    return Counter(orjson.loads(x)["meta"]["source"] for x in path.read_bytes().splitlines())


IDENTITY = {"identity": {"model_name": "小锻", "author": "Acme", "count": 20}}


@pytest.mark.parametrize("order", ["before", "after"])
def test_identity_goes_to_train_only(tmp_path: Path, order: str) -> None:
    steps = [IDENTITY, SPLIT] if order == "before" else [SPLIT, IDENTITY]
    res = run_recipe(_recipe(tmp_path, steps), tmp_path / "run", workers=1)
    train, val = _sources(res.outputs["train"]), _sources(res.outputs["validation"])
    assert train == {"in": 20, "identity": 20}
    assert val == {"in": 20}  # the ratios split the input; the identity set is added to train
    assert res.counts["added"] == 20


def test_share_counts_the_train_split_when_placed_after_split(mk, run_op) -> None:
    data = [mk(f"q{i}", split="train" if i < 90 else "validation") for i in range(100)]
    op = build_op("identity", {"model_name": "A", "author": "B", "share": 0.1})
    out, _ = run_op(op, data)
    ident = [s for s in out if s.meta.get("source") == "identity"]
    assert len(ident) == 10 and {s.meta["split"] for s in ident} == {"train"}  # 0.1 x 90 / 0.9


def test_identity_samples_record_the_names(mk, run_op) -> None:
    out, _ = run_op(build_op("identity", {"model_name": "小锻", "author": "Acme", "count": 1}), [])
    assert out[0].meta["identity"] == {"model_name": "小锻", "author": "Acme"}


def test_split_null_lets_split_place_them_anywhere(tmp_path: Path) -> None:
    ident = {"identity": {**IDENTITY["identity"], "split": None}}
    res = run_recipe(_recipe(tmp_path, [ident, SPLIT]), tmp_path / "run", workers=1)
    placed = (
        _sources(res.outputs["train"])["identity"],
        _sources(res.outputs["validation"])["identity"],
    )
    assert sum(placed) == 20 and min(placed) > 0


@pytest.mark.parametrize(
    ("steps", "outputs", "message"),
    [
        (  # no train output at all
            [SPLIT, IDENTITY],
            {"validation": OUTPUTS["validation"], "test": OUTPUTS["train"]},
            "identity puts its samples in split 'train', but the outputs are test, validation",
        ),
        (  # a split step that makes no train split
            [IDENTITY, {"split": {"ratios": {"a": 0.5, "validation": 0.5}}}],
            {
                "a": {**OUTPUTS["train"], "path": "a.jsonl"},
                "validation": OUTPUTS["validation"],
                "train": OUTPUTS["train"],
            },
            "identity puts its samples in split 'train', but the split at step 2 makes only a, validation",
        ),
        (  # split told not to keep them
            [
                IDENTITY,
                {"split": {"ratios": {"train": 0.5, "validation": 0.5}, "pinned_sources": []}},
            ],
            OUTPUTS,
            "the split at step 2 would move the identity samples",
        ),
        (  # after split, with no split of their own: they would reach no output
            [SPLIT, {"identity": {**IDENTITY["identity"], "split": None}}],
            OUTPUTS,
            "identity after a split step needs 'split'",
        ),
    ],
)
def test_impossible_placements_fail_before_any_work(
    tmp_path: Path, steps: list[Any], outputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")) as err:
        run_recipe(_recipe(tmp_path, steps, outputs), tmp_path / "run", workers=1)
    assert err.value.field is not None and err.value.field.startswith("steps[")
    assert not (tmp_path / "run" / ".work").exists()


@pytest.mark.parametrize(
    "steps", [[IDENTITY], [IDENTITY, {"split": {"ratios": {"a": 0.5, "b": 0.5}}}]]
)
def test_single_output_takes_identity_anywhere(tmp_path: Path, steps: list[Any]) -> None:
    res = run_recipe(
        _recipe(tmp_path, steps, {"train": OUTPUTS["train"]}), tmp_path / "run", workers=1
    )
    assert _sources(res.outputs["train"]) == {"in": 40, "identity": 20}


def test_docs_example_runs(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[3] / "docs" / "dedup-split-mix.md").read_text(encoding="utf-8")
    [block] = [b.split("```")[0] for b in doc.split("```yaml\n")[1:] if "- identity:" in b]
    recipe = yaml.safe_load(block)
    rows = [
        Sample([Message("user", f"问题 {i}"), Message("assistant", f"答 {i}")]) for i in range(100)
    ]
    (tmp_path / "in.jsonl").write_text("".join(s.to_json().decode() + "\n" for s in rows), "utf-8")
    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump({"inputs": ["in.jsonl"], **recipe}, allow_unicode=True), encoding="utf-8"
    )
    res = run_recipe(tmp_path / "r.yaml", tmp_path / "run", workers=1)
    train = [orjson.loads(x) for x in res.outputs["train"].read_bytes().splitlines()]
    val = res.outputs["validation"].read_text(encoding="utf-8")
    assert len(train) == 110 and sum("小锻" in str(r) for r in train) == 20
    assert len(val.splitlines()) == 10 and "小锻" not in val
