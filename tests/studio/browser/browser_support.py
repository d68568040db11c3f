"""What the browser tests share: the real studio app served by uvicorn on a free loopback port with
a temporary home, and Debian's Chromium driven by Playwright for Python (sync API).

One server and one browser for the whole session (starting Chromium costs about a second and a
half); each test gets a fresh browser context (cookies, storage) and a page. The browser is never
downloaded: it is ``/usr/bin/chromium`` (``scripts/install-browser-deps.sh`` installs it). The tests
skip only when Chromium is absent outside CI; in CI (``CI`` set) a missing browser fails them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "studio"


def need_browser() -> None:
    """Skip outside CI when there is no Chromium (or no Playwright); fail in CI."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (scripts/install-browser-deps.sh installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    pytest.skip(problem)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StudioServer:
    """The real app on ``base_url``; ``home`` is its data folder."""

    def __init__(self, home: Path) -> None:
        import uvicorn

        from sftforge.studio.app import create_app
        from sftforge.studio.settings import StudioSettings

        self.home = home
        self.port = _free_port()
        self.settings = StudioSettings(home=home, port=self.port, open_browser=False)
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="studio-server", daemon=True)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)



def screenshot(page: Any, name: str) -> Path:
    """Saves the page as docs/studio/<name>.png (the docs embed these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
