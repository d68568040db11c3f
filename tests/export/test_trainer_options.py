"""``--option KEY=VALUE``: one parser for ``tokenize --profile`` and ``export``; the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge.chat.profiles.options import parse_options
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.sample import Message, Sample


def test_values_are_typed() -> None:
    got = parse_options(
        ["mask_history=true", "cutoff=12", "lr=0.5", "roles_to_train=[assistant, tool]", "x=a b"]
    )
    assert got == {
        "mask_history": True,
        "cutoff": 12,
        "lr": 0.5,
        "roles_to_train": ["assistant", "tool"],
        "x": "a b",
    }


def test_a_mapping_stays_text_and_chinese_is_kept() -> None:
    assert parse_options(["default_system={a: 1}", "default_system2=你是助手"]) == {
        "default_system": "{a: 1}",
        "default_system2": "你是助手",
    }


@pytest.mark.parametrize("bad", ["novalue", "=1", "two words=1", "a.b=1"])
def test_not_key_value_is_refused(bad: str) -> None:
    with pytest.raises(SftforgeError, match="KEY=VALUE"):
        parse_options([bad])


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(SftforgeError, match="twice"):
        parse_options(["a=1", "a=2"])


def test_export_writes_a_readme_with_the_command(tmp_path: Path) -> None:
    s = Sample([Message("user", "你好"), Message("assistant", "您好")])
    result = export_samples([s], "llamafactory", tmp_path / "out", name="faq")
    text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "llamafactory-cli train train_lora_sft.yaml" in text
    assert "PATH/TO/MODEL" in text
    assert str(tmp_path) not in text  # nothing of this machine's paths: the folder travels
    assert tmp_path / "out" / "README.md" in result.files


def test_tokenize_option_without_profile_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sftforge.cli.main import main

    data = tmp_path / "d.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "a"}]}\n', encoding="utf-8")
    args = ["tokenize", str(data), str(tmp_path / "o.parquet"), "--tokenizer", "x"]
    assert main([*args, "--option", "mask_history=true"]) != 0
    assert "needs --profile" in capsys.readouterr().err


@pytest.mark.parametrize(("key", "flag"), [("max_length", "--max-len"), ("template", "--template")])
def test_a_setting_with_its_own_flag_is_not_an_option(key: str, flag: str) -> None:
    with pytest.raises(SftforgeError, match=flag):
        parse_options([f"{key}=12"])
