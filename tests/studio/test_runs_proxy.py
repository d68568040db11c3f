"""Studio LLM calls and the environment's proxies (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``,
``NO_PROXY``), with a real proxy on loopback (it forwards ``http://`` requests and tunnels
``https://`` ones with ``CONNECT``): the calls go through the proxy as the CLI's do (httpx's own
rules); the proxy's address is the server's setting and is not checked,
the target's host is, before each request (an address as written, a name resolved here); a host
``NO_PROXY`` names is connected to directly, its connection's address checked; a name that does
not resolve here is refused, naming the variable. Nothing refused reaches the proxy."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import http.client
import select
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset, run_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.errors import LLMError
from sftforge.llm.openai_http import OpenAIHTTPProvider
from sftforge.llm.peer_check import checking_peers
from sftforge.studio.app import create_app
from sftforge.studio.netguard import UnsafeUrlError, UrlGuard
from sftforge.studio.settings import StudioSettings

# what this machine's resolver says of the test's names (the proxy has its own view: below)
NAMES = {"llm.public.test": "93.184.216.34", "llm.local.test": "127.0.0.1",
         "meta.rebind.test": "169.254.169.254"}  # fmt: skip
UNRESOLVABLE = "llm.nowhere.test"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class ForwardingProxy:
    """An HTTP proxy on loopback: it sends ``POST http://host:port/path`` on to the fake LLM
    server and tunnels ``CONNECT host:port`` to ``tunnel_port`` (its own resolver maps every
    name there), logging each request's target."""

    def __init__(self, target_port: int, tunnel_port: int | None = None) -> None:
        self.log: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_CONNECT(self) -> None:
                proxy.log.append(f"CONNECT {self.path}")
                assert tunnel_port is not None
                upstream = socket.create_connection(("127.0.0.1", tunnel_port), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                ends = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(ends, [], [], 10)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def do_POST(self) -> None:
                proxy.log.append(self.path)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                url = urlsplit(self.path)
                skip = ("host", "connection", "proxy-connection", "proxy-authorization")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=10)
                upstream.request("POST", url.path, body, {**headers, "Host": url.netloc})
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                self.send_header("content-type", answer.getheader("content-type") or "")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = lambda body: Reply("ANSWER via the proxy")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def proxy(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardingProxy]:
    """The proxy, named by ``HTTP_PROXY`` (no other proxy variable set), and this machine's
    resolver answering ``NAMES``."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name == UNRESOLVABLE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if name not in NAMES:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (NAMES[name], int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    srv = ForwardingProxy(server.port).start()
    monkeypatch.setenv("HTTP_PROXY", srv.url)
    yield srv
    srv.stop()


def _self_signed(tmp_path: Path, host: str) -> tuple[Path, Path]:
    """A certificate for ``host`` that is its own authority (the client trusts it through
    ``SSL_CERT_FILE``, as httpx's ``trust_env`` reads it), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _on_a_thread(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``asyncio.run`` on a thread of its own, in a copy of this context (the check goes along):
    Playwright's sync API may hold an event loop on the main thread in the whole suite."""
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ctx.run, lambda: asyncio.run(make())).result()


def _ask(base_url: str, seen: list[tuple[str, str]]) -> str:
    guard = UrlGuard(allow_private=False)

    def check(host: str, address: str) -> None:
        seen.append((host, address))
        guard.address(host, address)

    async def call() -> str:
        provider = OpenAIHTTPProvider(base_url=base_url, model="m", timeout=10)
        try:
            return (await provider.complete([{"role": "user", "content": "你好"}])).text
        finally:
            await provider.aclose()

    with checking_peers(check):
        return str(_on_a_thread(call))


def test_a_checked_call_goes_through_the_proxy(server: FakeServer, proxy: ForwardingProxy) -> None:
    seen: list[tuple[str, str]] = []
    assert _ask(f"http://llm.public.test:{server.port}/v1", seen) == "ANSWER via the proxy"
    assert proxy.log == [f"http://llm.public.test:{server.port}/v1/chat/completions"]
    assert len(server.log) == 1
    # the target's name was checked (resolved here); the proxy on loopback was not refused
    assert seen == [("llm.public.test", "93.184.216.34")]


def test_an_https_call_is_tunnelled_through_the_proxy(
    tmp_path: Path, proxy: ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``https://`` through ``HTTPS_PROXY``: a ``CONNECT`` to the name (the proxy resolves it),
    TLS end to end with the LLM server's certificate checked for that name."""
    cert, key = _self_signed(tmp_path, "llm.public.test")
    tls = FakeServer()
    tls.default = lambda body: Reply("ANSWER through the tunnel")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.httpd.socket = context.wrap_socket(tls.httpd.socket, server_side=True)
    tls.start()
    tunnel = ForwardingProxy(0, tunnel_port=tls.port).start()
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        seen: list[tuple[str, str]] = []
        answer = _ask(f"https://llm.public.test:{tls.port}/v1", seen)
    finally:
        tunnel.stop()
        tls.stop()
    assert answer == "ANSWER through the tunnel"
    assert tunnel.log == [f"CONNECT llm.public.test:{tls.port}"]
    assert proxy.log == []  # HTTP_PROXY is for http:// only
    assert seen == [("llm.public.test", "93.184.216.34")]
    assert len(tls.log) == 1


@pytest.mark.parametrize(
    ("host", "refusal"),
    [
        ("127.0.0.1", "refused: 127.0.0.1 is a loopback address."),
        ("meta.rebind.test", "refused: meta.rebind.test (169.254.169.254) is a link-local"),
    ],
)
def test_a_private_target_is_refused_before_the_proxy_sees_it(
    server: FakeServer, proxy: ForwardingProxy, host: str, refusal: str
) -> None:
    with pytest.raises(UnsafeUrlError) as refused:
        _ask(f"http://{host}:{server.port}/v1", [])
    assert refusal in str(refused.value)
    assert proxy.log == [] and server.log == []


def test_a_name_that_does_not_resolve_here_is_refused_naming_the_variable(
    server: FakeServer, proxy: ForwardingProxy
) -> None:
    with pytest.raises(LLMError) as refused:
        _ask(f"http://{UNRESOLVABLE}:{server.port}/v1", [])
    err = refused.value
    assert err.message.startswith(
        f"cannot check {UNRESOLVABLE} before the request goes to the proxy (HTTP_PROXY)"
    )
    assert err.hint is not None and "--allow-private-urls" in err.hint
    assert "\n" not in str(err) and proxy.url not in str(err)
    assert proxy.log == [] and server.log == []


def test_no_proxy_hosts_connect_directly_with_their_address_checked(
    server: FakeServer, proxy: ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "llm.local.test")
    seen: list[tuple[str, str]] = []
    with pytest.raises(UnsafeUrlError, match=r"refused: llm\.local\.test \(127\.0\.0\.1\)"):
        _ask(f"http://llm.local.test:{server.port}/v1", seen)
    assert seen == [("llm.local.test", "127.0.0.1")]  # the connection's own address
    assert proxy.log == [] and server.log == []


def test_a_studio_generation_runs_through_the_proxy(
    tmp_path: Path, server: FakeServer, proxy: ForwardingProxy
) -> None:
    settings = StudioSettings(home=tmp_path / "home", open_browser=False)
    records = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"问题 {i}"}]}
               for i in range(2)]  # fmt: skip
    with TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        assert import_rows(client, ds, "q.jsonl", records, require_answer=False)["imported"] == 2
        llm = {"base_url": f"http://llm.public.test:{server.port}/v1", "model": "m",
               "concurrency": 1}  # fmt: skip
        started = client.post(f"/api/datasets/{ds}/generate", json={"task": "answer", "llm": llm})
        assert started.status_code == 202, started.text
        run_jobs(client)
        run = client.get(f"/api/runs/{started.json()['id']}").json()
        rows = client.get(f"/api/datasets/{ds}/versions/head/rows").json()["rows"]
    assert run["job"]["status"] == "done", run["job"]
    assert (run["counts"]["changed"], run["counts"]["failed"]) == (2, 0), run["counts"]
    assert {r["first_assistant"] for r in rows} == {"ANSWER via the proxy"}
    assert len(proxy.log) == 2 and len(server.log) == 2
