"""Every recipe under examples/ runs, and the quickstart does what its README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sftforge.errors import RecipeError
from sftforge.ops.base import OPS
from sftforge.pipeline import RunResult, load_recipe, run_recipe
from sftforge.pipeline.recipe import load_ops

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECIPES = sorted(EXAMPLES.rglob("recipe*.yaml"))


def _missing_ops(recipe: Path) -> list[str]:
    return _missing_ops_in(yaml.safe_load(recipe.read_text(encoding="utf-8")))


def _missing_ops_in(recipe: dict[str, Any]) -> list[str]:
    load_ops()
    names = [s if isinstance(s, str) else next(iter(s)) for s in recipe.get("steps") or []]
    return [n for n in names if n not in OPS]


def _run(recipe: Path, out: Path) -> RunResult:
    missing = _missing_ops(recipe)
    if missing:  # the operator families live on other branches until they are merged
        pytest.skip(f"operators not in this build: {', '.join(missing)}")
    return run_recipe(recipe, out, workers=2)


def test_there_are_examples() -> None:
    assert EXAMPLES / "quickstart" / "recipe.yaml" in RECIPES


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_recipe_runs(recipe: Path, tmp_path: Path) -> None:
    res = _run(recipe, tmp_path / "run")
    c = res.counts
    assert c["read"] > 0 and c["kept"] > 0
    assert c["read"] + c["added"] == c["kept"] + c["rejected"]
    for path in res.outputs.values():
        assert path.exists()
    assert res.report_html.exists() and res.lock.exists()


def test_quickstart_cleans_what_it_promises(tmp_path: Path) -> None:
    res = _run(EXAMPLES / "quickstart" / "recipe.yaml", tmp_path / "run")
    assert res.counts["per_input"]["alpaca"]["read"] == 73  # 72 records and one broken line
    assert res.counts["per_input"]["chats"]["read"] == 10
    assert res.counts["added"] == 4  # the identity set
    rejects = [orjson.loads(line) for line in res.rejects.read_bytes().splitlines()]
    by_op: dict[str, list[dict[str, object]]] = {}
    for r in rejects:
        by_op.setdefault(str(r["op"]), []).append(r)
    broken = [r for r in by_op["read"] if "broken" in str(r.get("raw"))]
    assert len(broken) == 1 and broken[0]["value"]["file"] == "raw_alpaca.jsonl"  # type: ignore[index]
    assert len(by_op["refusal_filter"]) == 3  # two English refusals, one Chinese
    assert len(by_op["empty_answer_filter"]) == 3  # <noinput>, N/A, 无
    assert len(by_op["dedup_exact"]) >= 5 and all(r["kept_id"] for r in by_op["dedup_exact"])
    assert len(by_op["dedup_near"]) >= 1
    rows = [
        orjson.loads(line) for p in res.outputs.values() for line in p.read_bytes().splitlines()
    ]
    text = "\n".join(t["value"] for row in rows for t in row["conversations"])
    assert not re.search(r"[\w.]+@example\.(com|cn)|13812345678|11010519491231002X", text)
    assert "[EMAIL]" in text and "<p>" not in text
    assert "```html\n<html><body><div>Hello</div></body></html>\n```" in text  # code kept
    report = orjson.loads(res.report_json.read_bytes())
    assert set(report["languages"]) == {"en", "zh"}
    assert report["pii"] and report["dedup_clusters"]
    assert len(res.outputs) == 2 and all(p.stat().st_size for p in res.outputs.values())


def test_docs_recipe_is_valid(tmp_path: Path) -> None:
    docs = (EXAMPLES.parent / "docs" / "recipes.md").read_text(encoding="utf-8")
    block = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    recipe = yaml.safe_load(block)
    recipe.pop("plugins")  # the docs name a hypothetical plugin module
    if _missing_ops_in(recipe):
        pytest.skip("operators not in this build")
    loaded = load_recipe(recipe)
    assert [s.op for s in loaded.steps][:2] == ["mix", "clean_html"]  # mixing from the inputs
    assert loaded.steps[0].options["weights"] == {"alpaca": 1, "chats": 2}


def test_docs_error_example_is_current() -> None:
    docs = (EXAMPLES.parent / "docs" / "recipes.md").read_text(encoding="utf-8")
    load_ops()
    if "length_filter" not in OPS:
        pytest.skip("operators not in this build")
    with pytest.raises(RecipeError) as info:
        load_recipe(
            {
                "inputs": ["a.jsonl"],
                "steps": [{"length_filter": {"min_chars": 2}}],
                "outputs": {"t": "alpaca"},
            }
        )
    shown = str(info.value).split(": ", 1)[1]
    assert shown in docs
