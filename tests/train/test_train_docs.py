"""docs/training.md stays true: its settings table lists every setting with its default, and its
YAML example is a valid settings file that plans a run."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import orjson
import pytest
import yaml

from sftforge.cli.main import main
from sftforge.train.config import TrainConfig, load_config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text(encoding="utf-8")


def test_the_settings_table_lists_every_setting_with_its_default() -> None:
    rows = dict(
        re.findall(
            r"^\| `([a-z_]+)` \|\s*`?([^|`]*?)`?\s*\|", DOC.split("## The settings")[1], re.M
        )
    )
    defaults = TrainConfig()
    assert list(rows) == [f.name for f in fields(TrainConfig)]
    for name, shown in rows.items():
        value = getattr(defaults, name)
        if value in (None, ""):
            assert shown.strip() == ""
        elif name == "target_modules":
            assert shown == ",".join(value)
        elif isinstance(value, bool):
            assert shown == str(value).lower()
        elif isinstance(value, float):
            assert float(shown) == value
        else:
            assert shown == str(value), name


def test_the_yaml_example_plans_a_run(
    llama_dir: Path, chat_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", DOC, re.S).group(1))  # type: ignore[union-attr]
    assert load_config(None, **example).lora_r == 16  # every key is a setting
    example |= {"model": str(llama_dir), "data": str(chat_file), "output": str(tmp_path / "o")}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(example), encoding="utf-8")
    assert main(["-q", "train", str(path), "--max-steps", "2", "--dry-run", "--json"]) == 0
    plan = orjson.loads(capsys.readouterr().out)
    assert (plan["steps"], plan["method"], plan["train_rows"]) == (2, "lora", 11)
