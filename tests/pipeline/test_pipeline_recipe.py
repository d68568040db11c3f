"""Recipe parsing: the shapes accepted, defaults filled in, and the error for every mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import OPS
from sftforge.pipeline import load_recipe

BASE: dict[str, Any] = {
    "plugins": ["pipeline_testops"],
    "inputs": [{"path": "a.jsonl"}],
    "steps": [{"t_minlen": {"min_chars": 3}}, "t_dedup"],
    "outputs": {"train": {"format": "sftforge"}},
}


def test_parse_fills_names_paths_and_defaults() -> None:
    r = load_recipe(BASE | {"seed": 7, "workers": 2})
    assert [(i.name, i.path, i.format, i.on_error) for i in r.inputs] == [
        ("a", "a.jsonl", None, "skip")
    ]
    assert [(s.op, s.options) for s in r.steps] == [("t_minlen", {"min_chars": 3}), ("t_dedup", {})]
    assert (r.outputs["train"].format, r.outputs["train"].path) == ("sftforge", "train.jsonl")
    assert (r.seed, r.workers, r.chunk_size) == (7, 2, 1000)
    assert r.resolved()["steps"] == [
        {"t_minlen": {"targets": "all", "min_chars": 3}},
        {"t_dedup": {}},
    ]


def test_parse_yaml_file_resolves_inputs_next_to_it(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(
        "plugins: [pipeline_testops]\ninputs: data/x.jsonl\nsteps:\n  - t_strip:\n"
        "outputs:\n  train: sftforge\n",
        encoding="utf-8",
    )
    r = load_recipe(p)
    assert r.input_path(r.inputs[0]) == tmp_path / "data" / "x.jsonl"
    assert [(s.op, s.options) for s in r.steps] == [("t_strip", {})]


def test_mixing_kinds_cannot_be_mixed() -> None:
    inputs = [{"path": "a.jsonl", "weight": 2}, {"path": "b.jsonl", "name": "bb", "count": 5}]
    with pytest.raises(RecipeError) as info:
        load_recipe(BASE | {"inputs": inputs})
    assert str(info.value) == (
        "field 'inputs': inputs mix by count and weight; use one kind for all inputs."
        " Fix: give every input a weight, or every input a ratio, or counts"
    )


ERRORS = [
    (
        {"steps": [{"t_minlen": {"min_char": 3}}]},
        "field 'steps[1].t_minlen': operator 't_minlen' has no option 'min_char'."
        " Fix: did you mean 'min_chars'? valid options for 't_minlen': min_chars, targets",
    ),
    (
        {"stepz": []},
        "field 'recipe': unknown key 'stepz' in recipe. Fix: valid keys: inputs, steps, outputs,"
        " seed, workers, chunk_size, memory_budget_mb, plugins, cache",
    ),
    (
        {"inputs": [{"path": "a.jsonl", "fmt": "x"}]},
        "field 'inputs[1]': unknown key 'fmt' in inputs[1]. Fix: valid keys: path, format, name,"
        " weight, ratio, count, on_error",
    ),
    (
        {"inputs": [{"path": "a.jsonl", "weight": 1, "count": 3}]},
        "field 'inputs[1]': inputs[1] sets weight and count; choose one. Fix: keep one of them",
    ),
    (
        {"inputs": [{"path": "a.jsonl"}, {"path": "x/a.jsonl"}]},
        "field 'inputs': input name 'a' is used twice. Fix: give each input a unique 'name'",
    ),
    (
        {"outputs": {"train": {"format": "sftforge", "path": "../up.jsonl"}}},
        "field 'outputs.train.path': outputs.train.path must stay inside the run folder,"
        " got '../up.jsonl'. Fix: use a relative path without '..'",
    ),
    (
        {"outputs": {"train": {"format": "sftforge", "compress": True}}},
        "field 'outputs.train': unknown key 'compress' in outputs.train. Fix: valid keys:"
        " format, path, allow_lossy",
    ),
    ({"steps": [{"t_strip": {}, "t_dedup": {}}]}, "field 'steps[1]': steps[1] must be one"),
    ({"chunk_size": 0}, "field 'chunk_size': 'chunk_size' must be an integer >= 1, got 0."),
    ({"plugins": ["no_such_module_xyz"]}, "field 'plugins': cannot import plugin module"),
]


@pytest.mark.parametrize(("change", "message"), ERRORS)
def test_recipe_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(BASE | change)
    assert str(info.value).startswith(message)


def test_unknown_operator_lists_every_registered_one() -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(BASE | {"steps": [{"t_nope": {}}]})
    assert str(info.value) == (
        f"field 'steps[1].t_nope': unknown operator 't_nope'. Fix: use one of: {', '.join(sorted(OPS))}"
    )
    assert {"t_dedup", "t_minlen", "t_strip"} <= set(OPS)


def test_missing_section_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="the recipe has no 'outputs'"):
        load_recipe({"inputs": ["a.jsonl"]})
    p = tmp_path / "bad.yaml"
    p.write_text("inputs: [a.jsonl\nsteps: []\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(p)
    assert str(info.value) == (
        f"{p}:2:6: the recipe is not valid YAML: expected ',' or ']', but got ':'."
        " Fix: fix the YAML syntax (indentation, colons, quotes)"
    )


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("inputs: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(p)


def test_a_recipe_imports_only_the_operator_families_it_uses() -> None:
    """Startup cost: cleaning steps do not import the LLM or chat operators; an unknown name
    still imports every family, so the error lists them all."""
    import subprocess
    import sys

    code = """
import sys
from sftforge.errors import RecipeError
from sftforge.pipeline import load_recipe
base = {"inputs": [{"path": "a.jsonl"}], "outputs": {"train": {"format": "sftforge"}}}
load_recipe(base | {"steps": ["normalize_whitespace", {"length_filter": {"min": 1}}]})
print("sftforge.generate" in sys.modules, "sftforge.chat.step" in sys.modules)
try:
    load_recipe(base | {"steps": ["normalize_whitespace", "t_nope"]})
except RecipeError as exc:
    print("tokenize" in str(exc), "sftforge.generate" in sys.modules)
"""
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": ""},
        check=True,
    ).stdout.split("\n")
    assert out[:2] == ["False False", "True True"]
