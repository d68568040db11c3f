"""``identity-system-prompt``: the template's default system prompt names another model than the
identity set (issue 16, problem 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.lint import CHECKS, lint_samples
from sftforge.chat.lint_identity import default_system_names, identity_mismatch
from sftforge.chat.lint_render import native_renderer
from sftforge.cli.main import main
from sftforge.sample import Message, Sample


def _ident(name: str) -> Sample:
    return Sample(
        [Message("user", "你是谁？"), Message("assistant", f"我是{name}，由 Acme 开发。")],
        meta={"source": "identity", "identity": {"model_name": name, "author": "Acme"}},
    )


DATA = [
    Sample([Message("user", "1+1?"), Message("assistant", "2")]),
    _ident("小锻"),
    _ident("小锻"),
]


def _warnings(samples: list[Sample], tok: Any, template: str, **kw: Any) -> list[Any]:
    report = lint_samples(samples, tok, render=native_renderer(tok, template), **kw)
    return [f for f in report.findings if f.check == "identity-system-prompt"]


def test_qwen_default_system_prompt_against_another_identity(tok: Any) -> None:
    assert CHECKS["identity-system-prompt"] == "warning"
    [finding] = _warnings(DATA, tok, "qwen2.5")
    assert finding.severity == "warning" and finding.row is None
    assert "You are Qwen, created by Alibaba Cloud" in finding.message
    assert "'小锻'" in finding.message and "3 samples without a system prompt" in finding.message


def test_names_read_from_the_default_system_prompt(tok: Any) -> None:
    assert default_system_names(native_renderer(tok, "qwen2.5")) == (
        ["Qwen"],
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    )
    assert default_system_names(native_renderer(tok, "chatml")) == ([], "")


@pytest.mark.parametrize(
    ("samples", "template", "names"),
    [
        (DATA, "chatml", ()),  # no default system prompt
        ([_ident("Qwen")], "qwen2.5", ()),  # the same name
        ([DATA[0]], "qwen2.5", ()),  # no identity set
        (  # every sample brings its own system prompt: the default is never used
            [Sample([Message("system", "你是小锻。"), *s.messages], meta=s.meta) for s in DATA],
            "qwen2.5",
            (),
        ),
    ],
)
def test_no_warning(tok: Any, samples: list[Sample], template: str, names: tuple[str, ...]) -> None:
    assert _warnings(samples, tok, template, identity_names=names) == []


def test_identity_name_given_when_the_data_has_no_meta(tok: Any) -> None:
    plain = [Sample(s.messages) for s in DATA]
    assert _warnings(plain, tok, "qwen2.5") == []
    assert len(_warnings(plain, tok, "qwen2.5", identity_names=["小锻"])) == 1
    assert identity_mismatch(plain, native_renderer(tok, "qwen2.5"), ["qwen"]) is None


def test_cli_identity_option(
    tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "d.jsonl"
    src.write_text("".join(Sample(s.messages).to_json().decode() + "\n" for s in DATA), "utf-8")
    args = ["lint", str(src), "--tokenizer", str(tok_dir), "--template", "qwen2.5"]
    assert main([*args, "--identity", "小锻"]) == 0  # a warning, not an error
    assert "warning identity-system-prompt: 1" in capsys.readouterr().out
