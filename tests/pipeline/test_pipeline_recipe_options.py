"""Every option checked by type and range before any work (issue 17): file, key path and fix.

Each case runs ``sftforge run`` as a subprocess with a wall-clock bound, and checks the exit
code, the one error line and that the run folder holds no output (nothing ran).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.ops.options import check_options
from sftforge.pipeline import load_recipe
from sftforge.pipeline.recipe import load_ops


@pytest.fixture(autouse=True)
def _all_ops() -> None:
    load_ops()  # the real operators (the pipeline tests' conftest registers test ones)


SRC = str(Path(__file__).resolve().parents[2] / "src")
DATA = '{"instruction": "q%d", "output": "an answer %d"}\n'
HEAD = "inputs:\n  - path: in.jsonl\n"
OUT = "outputs:\n  train: {format: sharegpt, path: train.jsonl}\n"

# (recipe body after the inputs, the error line expected: file and key path first, then the fix)
CASES = {
    "min_two": (
        "steps:\n  - length_filter: {targets: assistant, min: 'two'}\n" + OUT,
        "error: {f}, field 'steps[1].length_filter.min': operator 'length_filter': 'min' must be "
        "a number or null, not str 'two'. Fix: set 'min' to a number or null (the default is null)",
    ),
    "chunk_size_0": (
        "chunk_size: 0\n" + OUT,
        "error: {f}, field 'chunk_size': 'chunk_size' must be an integer >= 1, got 0. Fix: write "
        "a whole number, e.g. 'chunk_size: 1000'",
    ),
    "workers_0": (
        "workers: 0\n" + OUT,
        "error: {f}, field 'workers': 'workers' must be an integer >= 1, got 0. Fix: write a "
        "whole number, e.g. 'workers: 4'",
    ),
    "seed_abc": (
        "seed: abc\n" + OUT,
        "error: {f}, field 'seed': 'seed' must be an integer >= 0, got 'abc'. Fix: write a whole "
        "number, e.g. 'seed: 42'",
    ),
    "steps_mapping": (
        "steps:\n  clean: {}\n  dedup_exact: {}\n" + OUT,
        "error: {f}, field 'steps': 'steps' must be a list of '- op_name: {{options}}', not a "
        "dict. Fix: put a '- ' before each step (a list keeps their order; a mapping does not)",
    ),
    "bad_regex": (
        "steps:\n  - remove_boilerplate: {extra_patterns: ['([a-z']}\n" + OUT,
        "error: {f}, field 'steps[1].remove_boilerplate': operator 'remove_boilerplate': bad "
        "boilerplate pattern '([a-z': unterminated character set at position 1. Fix: change the option "
        "of 'remove_boilerplate' that the message names (regular expressions use Python re syntax)",
    ),
    "format_opnai": (
        "outputs:\n  train: {format: opnai}\n",
        "error: {f}, field 'outputs.train.format': unknown format 'opnai'. Fix: did you mean "
        "'openai'? use one of: alpaca, fastchat, flat, litgpt, llamafactory_v1, openai, "
        "sftforge, sharegpt, swift, text, trl, xtuner",
    ),
    "input_format_typo": (
        "    format: alpacca\n" + OUT,
        "error: {f}, field 'inputs[1].format': unknown format 'alpacca'. Fix: did you mean "
        "'alpaca'? use one of: alpaca, fastchat, flat, litgpt, llamafactory_v1, openai, "
        "sftforge, sharegpt, swift, text, trl, xtuner",
    ),
    "operator_typo": (
        "steps:\n  - dedup_exakt: {}\n" + OUT,
        "error: {f}, field 'steps[1].dedup_exakt': unknown operator 'dedup_exakt'. Fix: did you "
        "mean 'dedup_exact'? use one of:",
    ),
    "nested_list": (
        "steps:\n  - language_filter: {allowed: [en, [zh, 1]]}\n" + OUT,
        "error: {f}, field 'steps[1].language_filter.allowed[1]': operator 'language_filter': "
        "'allowed[1]' must be a string, not ['zh', 1]. Fix: set 'allowed[1]' to a string",
    ),
    "nested_dict_value": (
        "steps:\n  - split: {ratios: {train: 0.9, test: high}}\n" + OUT,
        "error: {f}, field 'steps[1].split.ratios.test': operator 'split': 'ratios.test' must be "
        "a number, not str 'high'. Fix: set 'ratios.test' to a number",
    ),
    "split_over_one": (
        "steps:\n  - split: {ratios: {train: 0.9, test: 0.3}}\n"
        + OUT
        + "  test: {format: sharegpt, path: test.jsonl}\n",
        "error: {f}, field 'steps[1].split': operator 'split': the split ratios are fractions "
        "that sum to 1.2 (train 0.9 + test 0.3), more than 1; make them sum to 1, or give "
        "whole-number weights (train: 9, test: 1).",
    ),
    "steps_option_not_mapping": (
        "steps:\n  - length_filter: 5\n" + OUT,
        "error: {f}, field 'steps[1]': steps[1]: the options of 'length_filter' must be a "
        "mapping, not 5. Fix: write '- length_filter: {{option: value}}'",
    ),
    "billion_laughs": (
        "steps:\n  - remove_boilerplate: {extra_patterns: &i [&h [&g [&f [&e [&d [&c [&b [&a "
        "[x,x,x,x,x,x,x,x,x],*a,*a,*a,*a,*a,*a,*a,*a],*b,*b,*b,*b,*b,*b,*b,*b],*c,*c,*c,*c,*c,*c,"
        "*c,*c],*d,*d,*d,*d,*d,*d,*d,*d],*e,*e,*e,*e,*e,*e,*e,*e],*f,*f,*f,*f,*f,*f,*f,*f],*g,*g,"
        "*g,*g,*g,*g,*g,*g],*h,*h,*h,*h,*h,*h,*h,*h]}\n" + OUT,
        "error: {f}: the recipe expands to more than 100000 values (YAML aliases that repeat each "
        "other, like 'billion laughs'). Fix: write the options out without nested aliases",
    ),
    "allow_lossy_string": (
        "outputs:\n  train: {format: sharegpt, allow_lossy: 'false'}\n",
        "error: {f}, field 'outputs.train.allow_lossy': outputs.train.allow_lossy must be true or "
        "false, got 'false'. Fix: write 'allow_lossy: true' or 'allow_lossy: false'",
    ),
    "cache_number": (
        "cache: 5\n" + OUT,
        "error: {f}, field 'cache': 'cache' must be true, false or a folder path, got 5. Fix:",
    ),
    "llm_option_type": (
        "steps:\n  - respond: {llm: {base_url: 'http://127.0.0.1:9/v1', model: m, concurrency: "
        "many}}\n" + OUT,
        "error: {f}, field 'steps[1].respond.llm.concurrency': llm: 'concurrency' must be an integer, not str "
        "'many'. Fix: set 'concurrency' to an integer (the default is 8)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_option_fails_before_any_work(tmp_path: Path, case: str) -> None:
    body, expected = CASES[case]
    (tmp_path / "in.jsonl").write_text("".join(DATA % (i, i) for i in range(5)), encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(HEAD + body, encoding="utf-8")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sftforge", "run", str(recipe), "-o", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
        cwd=tmp_path,
    )
    assert time.monotonic() - start < 60
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(expected.format(f=recipe)), lines[0]
    assert not (tmp_path / "run" / "train.jsonl").exists()


def test_a_python_value_too_large_to_walk_is_refused() -> None:
    start = time.monotonic()
    with pytest.raises(RecipeError, match="more than 100000 values"):
        build_op("remove_boilerplate", {"extra_patterns": ["x"] * 200_000})
    assert time.monotonic() - start < 5


def test_whole_number_split_weights_still_work() -> None:
    op = build_op("split", {"ratios": {"train": 9, "test": 1}})
    assert op.ratios == {"train": 9, "test": 1}  # type: ignore[attr-defined]
    build_op("split", {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}})


def test_check_options_walks_unions_literals_and_tuples() -> None:
    from dataclasses import dataclass, field
    from typing import Literal

    @dataclass
    class Opts:
        mode: Literal["a", "b"] = "a"
        pair: tuple[int, str] = (1, "x")
        names: list[str] | str = "all"
        weights: dict[str, float] = field(default_factory=dict)
        flag: bool = False

    check_options(Opts, {"mode": "b", "pair": [2, "y"], "names": ["u"], "weights": {"a": 1}}, "t")
    for bad, path in [
        ({"mode": "c"}, "mode"),
        ({"pair": [1, 2]}, "pair[1]"),
        ({"names": [1]}, "names[0]"),
        ({"weights": {"a": "x"}}, "weights.a"),
        ({"flag": 1}, "flag"),
    ]:
        with pytest.raises(RecipeError) as info:
            check_options(Opts, bad, "t")
        assert info.value.field == path


def test_recipe_files_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    recipe = tmp_path / "big.yaml"
    recipe.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="more than the 1 MiB"):
        load_recipe(recipe)


def test_docs_show_the_current_messages() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "recipes.md").read_text(encoding="utf-8")
    for case in ("min_two", "nested_dict_value", "chunk_size_0"):
        line = CASES[case][1].format(f="recipe.yaml")
        assert line in docs, line
    typo = CASES["format_opnai"][1].format(f="recipe.yaml").split(" use one of")[0]
    assert typo in docs


@pytest.mark.parametrize("workers", [0, -1, "two", 1.5, True])
def test_run_recipe_refuses_a_bad_workers_value(tmp_path: Path, workers: object) -> None:
    from sftforge.pipeline import run_recipe

    (tmp_path / "in.jsonl").write_text(DATA % (1, 1), encoding="utf-8")
    recipe = {"inputs": [str(tmp_path / "in.jsonl")], "outputs": {"train": "sharegpt"}}
    with pytest.raises(RecipeError, match="workers must be an integer >= 1"):
        run_recipe(recipe, tmp_path / "run", workers=workers)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()
