"""scripts/install-browser-deps.sh: valid bash, called by .ci/run before the tests, and a quiet
no-op when Chromium and the CJK fonts are already installed (it never runs apt-get here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-browser-deps.sh"


def _installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return "install ok installed" in done.stdout


def test_the_script_is_valid_bash_and_ci_runs_it_before_the_tests() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci.index("scripts/install-browser-deps.sh") < ci.index("make test")


def test_nothing_to_do_when_both_are_installed() -> None:
    if not (Path("/usr/bin/chromium").exists() and _installed("fonts-noto-cjk")):
        pytest.skip("chromium or fonts-noto-cjk is missing: running the script would install")
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == "" and done.stderr == ""
