"""DNS rebinding on a studio run's LLM calls: the base URL's host resolves to a public address
for the studio's checks (request and job start) and to loopback for the connection; the
connection's own address is checked too (``llm.peer_check``), so the run fails with the studio's
one-line refusal and no request reaches the server. With ``allow_private_urls`` the fake server
on loopback answers as before."""

from __future__ import annotations

import asyncio
import contextvars
import json
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.llm.openai_http import OpenAIHTTPProvider
from sftforge.llm.peer_check import checking_peers
from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings

HOST = "llm.rebind.test"
RECORDS = [{"id": "q1", "messages": [{"role": "user", "content": "什么是数据集?"}]}]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = lambda body: Reply("ANSWER")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HOST`` is a public address to the studio's URL checks and loopback to everyone else."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if (host.decode() if isinstance(host, bytes) else host) != HOST:  # anyio passes bytes
            return real(host, port, *args, **kwargs)
        caller = sys._getframe(1).f_globals.get("__name__")
        address = "93.184.216.34" if caller == "sftforge.studio.netguard" else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def _studio(tmp_path: Path, *, allow_private: bool) -> tuple[TestClient, Any]:
    settings = StudioSettings(
        home=tmp_path / "home", open_browser=False, allow_private_urls=allow_private
    )
    return TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False), settings


def _generate(client: TestClient, base_url: str) -> dict[str, Any]:
    ds = new_dataset(client)
    imported = import_rows(client, ds, "qa.jsonl", RECORDS, require_answer=False)
    assert imported["imported"] == 1
    llm = {"base_url": base_url, "model": "fake-m", "concurrency": 1}
    started = client.post(f"/api/datasets/{ds}/generate", json={"task": "answer", "llm": llm})
    assert started.status_code == 202, started.text  # the request-time check saw a public address
    run_jobs(client)
    run: dict[str, Any] = client.get(f"/api/runs/{started.json()['id']}").json()
    return run


def test_a_name_rebound_to_loopback_is_refused_on_connect(
    tmp_path: Path, server: FakeServer, rebinding_dns: None
) -> None:
    client, settings = _studio(tmp_path, allow_private=False)
    with client:
        run = _generate(client, f"http://{HOST}:{server.port}/v1")
    # the row the call was for stays in the version; its reject says why, in one line
    assert (run["counts"]["kept"], run["counts"]["failed"]) == (0, 1), run["counts"]
    rejects = (settings.home / "rejects" / f"{run['id']}.jsonl").read_text("utf-8").splitlines()
    assert len(rejects) == 1
    reason = json.loads(rejects[0])["reason"]
    assert f"refused: {HOST} (127.0.0.1) is a loopback address." in reason
    assert "\n" not in reason and "Traceback" not in reason
    assert server.log == []  # nothing reached the server on loopback


def test_the_fake_server_on_loopback_works_with_allow_private_urls(
    tmp_path: Path, server: FakeServer, rebinding_dns: None
) -> None:
    client, _ = _studio(tmp_path, allow_private=True)
    with client:
        run = _generate(client, f"http://{HOST}:{server.port}/v1")
    assert run["job"]["status"] == "done", run["job"]
    assert (run["counts"]["kept"], run["counts"]["failed"]) == (1, 0)
    assert len(server.log) == 1


def _run_on_a_thread(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``asyncio.run(make())`` on a thread of its own, in a copy of this context (the check set
    by ``checking_peers`` goes with it): in the whole suite Playwright's sync API keeps an event
    loop running on the main thread, where ``asyncio.run`` refuses to start."""
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ctx.run, lambda: asyncio.run(make())).result()


def test_a_check_that_allows_the_peer_sees_the_resolved_address(server: FakeServer) -> None:
    seen: list[tuple[str, str]] = []

    async def call() -> str:
        provider = OpenAIHTTPProvider(base_url=f"http://localhost:{server.port}/v1", model="m")
        try:
            return (await provider.complete([{"role": "user", "content": "hi"}])).text
        finally:
            await provider.aclose()

    with checking_peers(lambda host, address: seen.append((host, address))):
        assert _run_on_a_thread(call) == "ANSWER"
    assert seen and all(host == "localhost" for host, _ in seen)
    assert {address for _, address in seen} <= {"127.0.0.1", "::1"}


def test_the_check_follows_generate_onto_its_own_thread(server: FakeServer) -> None:
    """``generate`` called inside a running event loop runs on a thread of its own: the check set
    by the caller still applies there."""
    from sftforge.generate import build_generator
    from sftforge.generate.run import generate
    from sftforge.llm import LLMConfig
    from sftforge.sample import Message, Sample
    from sftforge.studio.netguard import UrlGuard

    llm = LLMConfig(base_url=server.base_url, model="m", cache=None, max_retries=0)

    async def handler() -> Any:
        item = Sample(messages=[Message("user", "hi")])
        return generate(build_generator("respond"), [item], llm)

    with checking_peers(UrlGuard().address):
        result = _run_on_a_thread(handler)
    assert result.samples == [] and len(result.failed) == 1
    assert "refused: 127.0.0.1 is a loopback address." in json.dumps(result.failed[0])
    assert server.log == []
