"""``sftforge studio``: refuses a non-loopback host it cannot protect (one line, exit 1), and
serves the API on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sftforge.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_non_loopback_host_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["studio", "--host", "0.0.0.0", "--no-browser", "--home", str(tmp_path / "h")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: refusing to listen on 0.0.0.0") and "Fix:" in err
    assert len(err.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_studio_serves_the_api_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [sys.executable, "-c", "import sys; from sftforge.cli.main import main; sys.exit(main())",
           "studio", "--port", str(port), "--no-browser", "--home", str(tmp_path / "h")]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            cmd, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        body = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/projects", timeout=2
                ) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert body == {"projects": []}, log.read_text()
        assert (tmp_path / "h" / "studio.sqlite3").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
