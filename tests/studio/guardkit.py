"""What the studio-guard tests share: an app in a temp home, the error-shape check, a recorder
that keeps every answer body (to scan for credentials), and a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings

ERROR_KEYS = {"code", "message", "field", "hint"}


def settings(tmp: Path, **values: Any) -> StudioSettings:
    values.setdefault("open_browser", False)
    return StudioSettings(home=tmp / "home", **values)


class Recorder:
    """Every answer body a test client received (for the no-credentials scan)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[str] = []

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(response.content)
        self.headers.append(str(list(response.headers.items())))

    def assert_absent(self, *secrets: str) -> None:
        assert self.bodies, "no answer was recorded"
        for secret in secrets:
            for body in self.bodies:
                assert secret.encode() not in body, f"a response carries {secret[:3]}..."
            for head in self.headers:
                assert secret not in head


def client(s: StudioSettings, recorder: Recorder | None = None, **kwargs: Any) -> TestClient:
    made = TestClient(create_app(s, run_jobs=False), **kwargs)
    if recorder is not None:
        made.event_hooks = {"request": [], "response": [recorder.hook]}
    return made


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape, with ``status`` (and ``code``); returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == ERROR_KEYS, err
    assert isinstance(err["message"], str) and err["message"] and "\n" not in err["message"]
    if code is not None:
        assert err["code"] == code, err
    return dict(err)


def new_dataset(c: TestClient) -> str:
    store = c.app.state.store  # type: ignore[attr-defined]
    project = store.create_project("p", "local")
    return str(store.create_dataset(project["id"], "d")["id"])


def run_import(c: TestClient, answer: dict[str, Any]) -> dict[str, Any]:
    """Run the queued import job here and return the import's row."""
    c.app.state.jobs.run_pending()  # type: ignore[attr-defined]
    store = c.app.state.store  # type: ignore[attr-defined]
    return dict(store.must("SELECT * FROM imports WHERE id=?", (answer["id"],), "import"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(s: StudioSettings) -> Iterator[str]:
    """The app served by uvicorn on a loopback port (for raw-socket tests)."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        create_app(s, run_jobs=False),
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
