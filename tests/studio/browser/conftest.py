"""Fixtures of the browser tests: ``studio`` (the real app on a loopback port, one per session),
``browser`` (Debian's Chromium through Playwright, one per session) and ``page`` (a fresh context
and page per test). See browser_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, StudioServer, need_browser


@pytest.fixture(scope="session")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    need_browser()
    server = StudioServer(
        tmp_path_factory.mktemp("studio-home"), data_root=tmp_path_factory.mktemp("data-root")
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import expect, sync_playwright

    # a commit or a diff of 52k rows on a busy 2-core machine takes seconds, not milliseconds
    expect.set_options(timeout=30_000)

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, studio: StudioServer) -> Iterator[Any]:
    """A fresh context and page on the studio, English UI, a 1280x860 window."""
    context = browser.new_context(
        base_url=studio.base_url,
        locale="en-US",
        viewport={"width": 1280, "height": 860},
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
