"""The fast entry point: ``version`` and the top-level help without typer, equal to the app."""

from __future__ import annotations

import subprocess
import sys

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


def test_version_and_help_do_not_import_typer() -> None:
    code = (
        "import sys; from sftforge.cli.launch import main; "
        "main(['version']); main(['--help']); main(['-q', 'version']); "
        "print('typer' in sys.modules, 'click' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[0] == __version__
    assert "Commands:" in out and "export" in out
    assert out.splitlines()[-1] == "False False"


def test_no_arguments_is_the_help_with_a_usage_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert launch.main([]) == 2
    assert "Usage: sftforge" in capsys.readouterr().err


def test_everything_else_goes_to_the_full_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main(["convert", "--help"]) == 0
    assert "--to" in capsys.readouterr().out
