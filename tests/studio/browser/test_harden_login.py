"""Login mode in a real browser (issue 13, "Users and safety"): the studio bound to an address that
is not loopback asks for a login; a user logs in through the login page in Chromium, and a change
made by the page (a CSRF-protected POST) works; without the session, or without the CSRF token,
the same request is refused."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import StudioServer, need_browser

PASSWORD = "pw-Login-Heron-7"


def _outside_address() -> str:
    """This machine's address on its network (not loopback) when it has one that can be bound;
    else ``0.0.0.0``, which the studio treats as not local just the same."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
            address = str(probe.getsockname()[0])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return "0.0.0.0"
    return "0.0.0.0" if address.startswith("127.") else address


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    need_browser()
    from sftforge.studio import auth

    server = StudioServer(tmp_path_factory.mktemp("shared-home"), host=_outside_address(),
                          token="tok-Login-Unused-3")  # fmt: skip
    auth.create_user(server.app.state.store, "lead", PASSWORD, "admin")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_log_in_through_the_page_and_change_something(browser: Any, shared: StudioServer) -> None:
    from playwright.sync_api import expect

    assert not shared.settings.local_only
    context = browser.new_context(base_url=shared.base_url, locale="en-US")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        # a page without a session sends the browser to the login page
        page.goto("/")
        page.wait_for_url(re.compile(r"/login\?next=/$"))
        page.fill("[data-testid=login-user]", "lead")
        page.fill("[data-testid=login-password]", "wrong password")
        page.click("[data-testid=login-submit]")
        expect(page.locator("#error")).not_to_be_empty()
        page.fill("[data-testid=login-password]", PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_url(shared.base_url + "/")
        expect(page.locator("[data-testid=project-name]")).to_be_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        session = next(c for c in cookies.values() if c["httpOnly"])
        assert session["sameSite"] == "Lax"

        # the page's own POST (with the session and its CSRF token) creates a project
        page.fill("[data-testid=project-name]", "登录后的项目")
        page.click("[data-testid=project-create]")
        expect(page.locator("[data-testid=project-title]").first).to_have_text("登录后的项目")

        # the same POST with the session cookie but without the token is refused; so is any
        # request without the session
        refused = page.evaluate("""async () => {
            const post = (opts) => fetch("/api/projects", Object.assign({method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({name: "forged"})}, opts));
            const noToken = await post({});
            const noSession = await post({credentials: "omit"});
            const read = await fetch("/api/projects", {credentials: "omit"});
            return [noToken.status, (await noToken.json()).error.code,
                    noSession.status, (await noSession.json()).error.code, read.status];
        }""")
        assert refused == [403, "csrf", 401, "unauthorized", 401]
        with httpx.Client(base_url=shared.base_url) as outsider:
            assert outsider.get("/api/projects").status_code == 401
            assert outsider.get("/").status_code == 303
        names = [p["name"] for p in shared.app.state.store.all("SELECT name FROM projects")]
        assert names == ["登录后的项目"]

        # logged out, the session no longer works
        page.evaluate("""async () => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            await fetch("/api/auth/logout", {method: "POST", headers: {"X-CSRF-Token": token}});
        }""")
        page.goto("/")
        page.wait_for_url(re.compile(r"/login"))
    finally:
        context.close()
