"""The fast entry point: ``version`` and the top-level help without typer, equal to the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sftforge import __version__
from sftforge.cli import launch


def _registered() -> list[tuple[str, str]]:
    import typer.main

    from sftforge.cli.main import _load_commands, app

    _load_commands()
    group = typer.main.get_group(app)
    out = []
    for name in group.list_commands(None):  # type: ignore[arg-type]
        cmd = group.get_command(None, name)  # type: ignore[arg-type]
        assert cmd is not None
        out.append((name, (cmd.help or "").strip().split("\n")[0]))
    return out


def test_the_help_lists_every_command_with_its_own_first_line() -> None:
    assert sorted(launch.COMMANDS) == sorted(_registered())


def test_version_and_help_import_neither_typer_nor_typing() -> None:
    code = (
        "import sys; from sftforge.cli.launch import main; "
        "main(['version']); main(['--help']); main(['-q', 'version']); "
        "print('typer' in sys.modules, 'click' in sys.modules, 'typing' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[0] == __version__
    assert "Commands:" in out and "export" in out
    # (typing and its re would take longer to import than the rest of these answers)
    assert out.splitlines()[-1] == "False False False"


def test_no_arguments_is_the_help_with_a_usage_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert launch.main([]) == 2
    assert "Usage: sftforge" in capsys.readouterr().err


def test_everything_else_goes_to_the_full_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main(["convert", "--help"]) == 0
    assert "--to" in capsys.readouterr().out


def _in_child(code: str) -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_convert_of_a_small_jsonl_imports_only_what_it_uses(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "你好"}, '
                   '{"role": "assistant", "content": "你好！"}]}\n', encoding="utf-8")  # fmt: skip
    code = (
        "import sys; from sftforge.cli.launch import main; "
        f"rc = main(['convert', {str(src)!r}, {str(tmp_path / 'out.jsonl')!r}, '--to', 'sharegpt', "
        "'--workers', '1', '--no-check-text', '-q']); "
        "print(rc, sorted(m for m in ('pydantic', 'yaml', 'sftforge.cli.tokenize', "
        "'sftforge.cli.generate', 'sftforge.pipeline', 'typer', 'click', 'numpy', 'pyarrow', "
        "'multiprocessing', 'importlib.metadata', 'threading', 'tempfile', 'shutil', "
        "'pathlib', 'urllib.parse', 'sftforge.io.parquet', 'sftforge.io.delimited', "
        "'sftforge.formats.llamafactory', 'sftforge.formats.mapped', "
        "'sftforge.formats.columns', 'sftforge.io.remote', 'sftforge.io.folders', "
        "'sftforge.io.jsonarray', 'sftforge.oserrors') if m in sys.modules))"
    )
    assert _in_child(code)[-1] == "0 []"
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == (
        '{"conversations":[{"from":"human","value":"你好"},{"from":"gpt","value":"你好！"}]}\n'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Input should be greater than or equal to 1"),
        ("abc", "Input should be a valid integer"),
    ],
)
def test_bad_option_values_get_typers_own_message(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sftforge.cli.main import main

    assert main(["convert", "a", "b", "--to", "sharegpt", "--workers", value]) == 2
    err = capsys.readouterr().err
    assert f"Invalid value for '--workers': {message}" in err


def test_values_reach_the_command_as_typer_makes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import sftforge.convert
    from sftforge.cli.main import main

    seen: dict[str, object] = {}

    def fake(src: str, out: str, to: str, **kw: object) -> object:
        seen.update(kw, src=src, out=out, to=to)
        raise SystemExit(0)

    monkeypatch.setattr(sftforge.convert, "convert", fake)
    with pytest.raises(SystemExit):
        main(["convert", "in.json", "-", "--to", "openai", "--workers", "007", "--from=alpaca",
              "--allow-lossy", "--no-check-text", "--max-record-mb", "2"])  # fmt: skip
    assert seen["src"] == "in.json" and seen["out"] == "-" and seen["to"] == "openai"
    assert seen["workers"] == 7 and seen["from_"] == "alpaca"
    assert seen["allow_lossy"] is True and seen["check_text"] is False
    assert seen["max_record_bytes"] == 2 * 2**20 and seen["columns"] is None


def test_the_command_list_is_the_same_whatever_ran_first() -> None:
    """``export`` registered alone first, the others after it: the help keeps the usual order."""
    code = (
        "import contextlib, io, sys; from sftforge.cli.main import main\n"
        "for argv in ([a for a in sys.argv[1:]], ['--help']):\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        main(argv)\n"
        "print(buf.getvalue())"
    )

    def top_help(*first: str) -> str:
        argv = [sys.executable, "-c", code, *first]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    usual = top_help("--help")
    assert "export" in usual and "convert" in usual
    assert top_help("export", "--help") == usual


def test_run_takes_its_paths_and_float_default_without_pydantic(tmp_path: Path) -> None:
    """``sftforge run`` has two ``Path`` parameters and a ``float`` one left at its default:
    the paths go through typer's own path checks as ``Path`` objects and the float needs
    nothing, so the command never imports pydantic (about 0.1 s of CPU a run)."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "你好吗"}, '
                   '{"role": "assistant", "content": "很好，谢谢！"}]}\n', encoding="utf-8")  # fmt: skip
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"inputs:\n  - path: {src}\n    format: openai\nsteps:\n  - length_filter: {{min: 2}}\n"
        "outputs:\n  train: {format: openai, path: train.jsonl}\n",
        encoding="utf-8",
    )
    code = (
        "import sys; from sftforge.cli.launch import main; "
        f"rc = main(['run', {str(recipe)!r}, '-o', {str(tmp_path / 'run')!r}, '--workers', '1', "
        "'-q']); print(rc, 'pydantic' in sys.modules)"
    )
    assert _in_child(code)[-1] == "0 False"
    assert "很好，谢谢！" in (tmp_path / "run" / "train.jsonl").read_text(encoding="utf-8")


def test_a_path_value_is_the_path_typer_makes(tmp_path: Path) -> None:
    """The plain step hands a ``Path`` parameter the ``Path`` of the string, through typer's
    own checks; a non-string value still goes to typer."""
    import typer
    from typer.testing import CliRunner

    from sftforge.cli import _plainvalues

    _plainvalues.install()
    app = typer.Typer()
    seen: list[object] = []

    @app.command()
    def cmd(where: Path, budget: float = 1.5) -> None:
        seen.extend([where, budget])

    target = tmp_path / "数据 dir"
    result = CliRunner().invoke(app, [str(target)])
    assert result.exit_code == 0, result.output
    assert seen == [target, 1.5] and type(seen[0]) is type(target)
    result = CliRunner().invoke(app, [str(target), "--budget", "2.5"])  # a string: typer's
    assert result.exit_code == 0 and seen[-1] == 2.5
    result = CliRunner().invoke(app, [str(target), "--budget", "lots"])
    assert result.exit_code == 2 and "Invalid value for '--budget'" in result.output
