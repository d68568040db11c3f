"""`sftforge studio` refuses a non-loopback host that no login protects, in one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge.cli.main import main


def test_non_loopback_without_login_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert main(["studio", "--host", "0.0.0.0", "--no-browser", "--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 with no login" in err and "--token" in err
    assert "Traceback" not in err
