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


def test_limits_and_private_urls_reach_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from sftforge.studio.settings import StudioSettings

    seen: list[StudioSettings] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: seen.append(app.state.settings))
    args = ["studio", "--no-browser", "--home", str(tmp_path / "h"), "--allow-private-urls",
            "--max-upload-bytes", "1000", "--max-upload-files", "7"]  # fmt: skip
    assert main(args) == 0
    assert (seen[0].allow_private_urls, seen[0].max_upload_bytes, seen[0].max_upload_files) == (
        True, 1000, 7,
    )  # fmt: skip
