"""issue 16 in recipes: user fields survive a run untouched by the pipeline's own meta keys, and an
input that keeps none of its records fails the run with the fix named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from pipeline_helpers import run_cli

from sftforge.errors import InputError
from sftforge.pipeline import run_recipe

ROWS = [
    # 'source' and 'row' are also the pipeline's meta keys: the user's values must come out as is
    {
        "instruction": f"问题 {i}",
        "input": "",
        "output": f"答案 {i}",
        "source": "客服",
        "row": 100 + i,
    }
    for i in range(6)
]


def _recipe(tmp_path: Path, fmt: str, out_fmt: str = "alpaca", **extra: Any) -> Path:
    body = b",\n".join(orjson.dumps(r) for r in ROWS)
    (tmp_path / "faq.json").write_bytes(b"[\n" + body + b"\n]\n")  # one record per line
    recipe = {
        "inputs": [{"path": "faq.json", "name": "faq", "format": fmt}],
        "steps": [],
        "outputs": {"train": {"format": out_fmt, "path": "train.json"}},
    } | extra
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def test_user_fields_named_like_pipeline_keys_are_kept(tmp_path: Path) -> None:
    res = run_recipe(_recipe(tmp_path, "alpaca"), tmp_path / "run", workers=1)
    assert res.counts["per_input"] == {"faq": {"read": 6, "kept": 6, "rejected": 0}}
    assert orjson.loads(res.outputs["train"].read_bytes()) == ROWS


def test_native_output_keeps_both_namespaces(tmp_path: Path) -> None:
    res = run_recipe(_recipe(tmp_path, "alpaca", "sftforge"), tmp_path / "run", workers=1)
    first = orjson.loads(res.outputs["train"].read_bytes().splitlines()[0])
    assert first["meta"]["source"] == "faq" and first["meta"]["row"] == 1  # the pipeline's
    assert first["meta"]["fields"] == {"source": "客服", "row": 100}  # the user's


def test_an_input_that_keeps_nothing_fails_the_run(tmp_path: Path) -> None:
    """issue 16 problem 2: `format: sharegpt` on an Alpaca file printed `read 300, kept 0,
    rejected 300`, wrote `[]` and exited 0."""
    with pytest.raises(InputError) as exc:
        run_recipe(_recipe(tmp_path, "sharegpt"), tmp_path / "run", workers=1)
    err = str(exc.value)
    assert err.startswith(
        "none of the 6 records of input 'faq' (faq.json) could be used (format 6)"
    )
    assert "the records are not in the 'sharegpt' format: set the input's 'format:'" in err
    assert str(tmp_path / "run" / "rejects.jsonl") in err
    rejects = [
        orjson.loads(x) for x in (tmp_path / "run" / "rejects.jsonl").read_bytes().splitlines()
    ]
    assert len(rejects) == 6 and {r["value"]["kind"] for r in rejects} == {"format"}
    assert [r["value"]["line"] for r in rejects] == [2, 3, 4, 5, 6, 7]


def test_the_cli_exits_1_for_an_input_that_keeps_nothing(tmp_path: Path) -> None:
    proc = run_cli(
        ["run", str(_recipe(tmp_path, "sharegpt")), "-o", str(tmp_path / "run")], tmp_path
    )
    assert proc.returncode == 1
    assert "error: none of the 6 records of input 'faq'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_trailing_comma_in_an_input_is_logged_not_counted(tmp_path: Path) -> None:
    path = _recipe(tmp_path, "alpaca")
    body = b",\n".join(orjson.dumps(r) for r in ROWS)
    (tmp_path / "faq.json").write_bytes(b"[\n" + body + b",\n]\n")
    lines: list[str] = []
    res = run_recipe(path, tmp_path / "run", workers=1, log=lines.append)
    assert res.counts["per_input"] == {"faq": {"read": 6, "kept": 6, "rejected": 0}}
    assert [ln for ln in lines if ln.startswith("warning")] == [
        "warning: input 'faq': faq.json:8:1: trailing comma before the closing ']' (not allowed "
        "in JSON; not a record). Fix: remove the comma after the last element"
    ]
