"""Recipe inputs: ``columns:`` (the column mapping), ``path: dataset_info.json#entry`` and
``format: llamafactory:dataset_info.json#entry`` resolved against the recipe's folder
(issue 16, problem 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sftforge.errors import RecipeError
from sftforge.pipeline import load_recipe, run_recipe
from sftforge.sample import Sample

ROWS = [("问一", "答一"), ("问二", "答二"), ("问三", "答三")]


def _project(tmp_path: Path) -> Path:
    """A recipe folder: a GBK CSV with Chinese headers and a dataset_info.json naming an Alpaca
    file with its own column names."""
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    csv = "问题,答案,类别\r\n" + "".join(f"{q},{a},faq\r\n" for q, a in ROWS)
    (proj / "data" / "faq.csv").write_bytes(csv.encode("gbk"))
    rows = [{"q": q, "a": a} for q, a in ROWS]
    (proj / "data" / "faq.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    info = {"faq": {"file_name": "faq.json", "columns": {"prompt": "q", "response": "a"}}}
    (proj / "data" / "dataset_info.json").write_text(json.dumps(info), "utf-8")
    return proj


def _recipe(proj: Path, inp: dict[str, object]) -> Path:
    path = proj / "recipe.yaml"
    recipe = {"inputs": [inp], "steps": [], "outputs": {"train": {"format": "sftforge"}}}
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _samples(out: Path) -> list[Sample]:
    lines = (out / "train.jsonl").read_bytes().splitlines()
    return [Sample.from_json(line) for line in lines]


def _run_elsewhere(
    tmp_path: Path, recipe: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, ...]]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths must not depend on the working directory
    res = run_recipe(recipe, tmp_path / "run", workers=1)
    assert res.rejects.read_bytes() == b""
    return [tuple(m.content for m in s.messages) for s in _samples(tmp_path / "run")]


def test_recipe_columns_read_a_gbk_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = _project(tmp_path)
    recipe = _recipe(
        proj,
        {
            "path": "data/faq.csv",
            "columns": {"问题": "prompt", "答案": "response", "类别": "meta.kind"},
        },
    )
    assert _run_elsewhere(tmp_path, recipe, monkeypatch) == ROWS
    assert [s.meta["kind"] for s in _samples(tmp_path / "run")] == ["faq"] * 3
    lock = yaml.safe_load((tmp_path / "run" / "recipe.lock.yaml").read_text(encoding="utf-8"))
    assert lock["inputs"][0]["columns"] == {
        "问题": "prompt",
        "答案": "response",
        "类别": "meta.kind",
    }


def test_recipe_path_to_a_dataset_info_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _project(tmp_path)
    recipe = _recipe(proj, {"path": "data/dataset_info.json#faq"})
    assert load_recipe(recipe).inputs[0].name == "faq"
    assert _run_elsewhere(tmp_path, recipe, monkeypatch) == ROWS


def test_recipe_llamafactory_format_resolves_next_to_the_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _project(tmp_path)
    inp = {"path": "data/faq.json", "format": "llamafactory:data/dataset_info.json#faq"}
    assert _run_elsewhere(tmp_path, _recipe(proj, inp), monkeypatch) == ROWS


def test_the_lock_changes_when_the_dataset_info_mapping_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _project(tmp_path)
    recipe = load_recipe(_recipe(proj, {"path": "data/dataset_info.json#faq"}))
    files = recipe.input_files(recipe.inputs[0])
    assert files == [proj / "data" / "dataset_info.json", (proj / "data" / "faq.json").resolve()]


@pytest.mark.parametrize(
    ("inp", "message"),
    [
        (
            {"path": "a.csv", "columns": {"问题": "promt"}},
            "column mapping: unknown part 'promt' in '问题=promt'.",
        ),
        ({"path": "a.csv", "columns": "问题=prompt"}, "inputs[1].columns must be a mapping"),
        (
            {"path": "a.csv", "columns": {"q": "prompt"}, "format": "alpaca"},
            "inputs[1] sets both 'format' and 'columns'.",
        ),
    ],
)
def test_bad_columns_fail_when_the_recipe_loads(inp: dict[str, object], message: str) -> None:
    recipe = {"inputs": [inp], "steps": [], "outputs": {"train": "sftforge"}}
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe)
    assert message in str(info.value)
    assert info.value.field is not None and info.value.field.startswith("inputs[1]")


def test_the_docs_columns_example_loads() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "recipes.md").read_text(encoding="utf-8")
    block = next(b for b in docs.split("```yaml\n")[1:] if "columns:" in b.split("```")[0])
    inputs = yaml.safe_load(block.split("```")[0])["inputs"]
    recipe = load_recipe({"inputs": inputs, "steps": [], "outputs": {"train": "sftforge"}})
    assert [(i.name, i.columns) for i in recipe.inputs] == [
        ("faq", {"问题": "prompt", "答案": "response", "类别": "meta.category"}),
        ("identity", None),
    ]
