"""The direct path (``cli.direct``): plain ``convert`` arguments run without typer, with exactly
what typer would hand the command; anything else is left to typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sftforge.convert
from sftforge.cli import launch
from sftforge.cli.convert import PARAMS
from sftforge.cli.direct import run_direct
from sftforge.cli.main import main
from sftforge.cli.params import parse


class _Called(Exception):
    pass


def _library_call(monkeypatch: pytest.MonkeyPatch, run: Any, argv: list[str]) -> dict[str, Any]:
    """What the command hands ``sftforge.convert.convert`` when ``run(argv)`` runs it."""
    seen: dict[str, Any] = {}

    def fake(src: Any, dst: Any, to: Any, **kw: Any) -> Any:
        seen.update(kw, src=src, dst=dst, to=to)
        seen["on_open"] = kw["on_open"].__qualname__  # (a closure made on each call)
        raise _Called

    monkeypatch.setattr(sftforge.convert, "convert", fake)
    with pytest.raises(_Called):
        run(argv)
    return seen


PLAIN = [
    ["convert", "in.jsonl", "out.jsonl", "--to", "sharegpt"],
    ["convert", "--to", "openai", "in.json", "-"],
    ["convert", "-", "o.json", "--to=alpaca", "--from=sharegpt", "--workers", "3"],
    ["convert", "a.csv", "b.jsonl", "--to", "sharegpt", "--columns", "问题=prompt,答案=response",
     "--allow-lossy", "--strict", "--no-check-text", "--max-record-mb", "07",
     "--container", "csv", "--out-container", "json", "--encoding", "gb18030",
     "--rejects", "r.jsonl", "--dataset-info", "info.json", "--dataset-name", "zh"],
    ["convert", "in.jsonl", "out.jsonl", "--to", "sharegpt", "--on-error", "raise",
     "--check-text"],
    ["-q", "convert", "in.jsonl", "out.jsonl", "--to", "", "--quiet"],
]  # fmt: skip


@pytest.mark.parametrize("argv", PLAIN)
def test_plain_arguments_reach_the_library_as_through_typer(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    through_typer = _library_call(monkeypatch, main, argv)
    direct = _library_call(monkeypatch, run_direct, argv)
    assert direct == through_typer


@pytest.mark.parametrize(
    "args",
    [
        ["in", "out", "--to", "x", "--help"],
        ["in", "out", "--to", "x", "--bogus"],
        ["in", "--to", "x"],
        ["in", "out", "extra", "--to", "x"],
        ["in", "out"],
        ["in", "out", "--to", "x", "--workers", "0"],
        ["in", "out", "--to", "x", "--workers", "abc"],
        ["in", "out", "--to", "x", "--workers", "+3"],
        ["in", "out", "--to", "x", "--to", "y"],
        ["in", "out", "--to", "x", "--allow-lossy=yes"],
        ["in", "out", "--to"],
        ["in", "out", "--to", "--strict"],
        ["in", "out", "--to", "x", "-z"],
    ],
)
def test_anything_not_plain_is_left_to_typer(args: list[str]) -> None:
    assert parse(PARAMS, args) is None
    assert run_direct(["convert", *args]) is None


@pytest.mark.parametrize(
    "argv",
    [["inspect", "a.jsonl"], ["convert", "a", "b", "--to", "x", "--", "c"], ["--s3-endpoint"]],
)
def test_other_commands_and_separators_go_to_typer(argv: list[str]) -> None:
    assert run_direct(argv) is None


def test_the_root_endpoint_option_is_applied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SFTFORGE_S3_ENDPOINT", raising=False)
    argv = ["--s3-endpoint", "http://127.0.0.1:9", "convert", "a", "b", "--to", "sharegpt"]
    _library_call(monkeypatch, run_direct, argv)
    import os

    assert os.environ["SFTFORGE_S3_ENDPOINT"] == "http://127.0.0.1:9"


def test_errors_are_the_same_line_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["convert", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl"), "--to", "sharegpt"]  # fmt: skip
    assert main(argv) == 1
    through_typer = capsys.readouterr().err
    assert run_direct(argv) == 1
    assert capsys.readouterr().err == through_typer
    assert through_typer.startswith("error: ") and "missing.jsonl: no such file" in through_typer


def test_the_console_command_converts_without_importing_typer(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "你好", "input": "", "output": "你好！"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = (
        "import sys; from sftforge.cli.launch import main; "
        f"rc = main(['convert', {str(src)!r}, {str(out)!r}, '--to', 'sharegpt']); "
        "print(rc, 'typer' in sys.modules, 'click' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 False False"
    assert "read 1 = written 1 + rejected 0" in done.stderr
    assert out.read_text(encoding="utf-8") == (
        '{"conversations":[{"from":"human","value":"你好"},{"from":"gpt","value":"你好！"}]}\n'
    )


def test_a_usage_error_still_gets_typers_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main(["convert", "a", "b", "--to", "sharegpt", "--workers", "0"]) == 2
    assert "Invalid value for '--workers'" in capsys.readouterr().err


def test_the_function_takes_exactly_the_declared_parameters_and_types() -> None:
    import inspect
    import typing

    from sftforge.cli import convert as module

    hints = typing.get_type_hints(module.convert)
    params = inspect.signature(module.convert).parameters
    assert list(params) == [p.name for p in PARAMS]
    assert all(p.default is inspect.Parameter.empty for p in params.values())
    for p in PARAMS:
        expected = p.kind if p.default is not None else p.kind | None
        assert hints[p.name] == expected, p.name
