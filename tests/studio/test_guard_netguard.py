"""netguard: every non-public address form is refused, public ones pass, redirects are checked
hop by hop (through the library's own reader), and allow_private turns the check off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from sftforge.io.remote import Access, open_url
from sftforge.studio.netguard import UnsafeUrlError, UrlGuard, check_url

REFUSED = [
    ("http://127.0.0.1/x", "loopback"),
    ("http://127.9.9.9:8080/x", "loopback"),
    ("http://2130706433/x", "loopback"),  # 127.0.0.1 as one number
    ("http://0x7f.1/x", "loopback"),
    ("http://017700000001/x", "loopback"),  # octal
    ("http://localhost/x", "loopback"),
    ("http://api.localhost/x", "loopback"),
    ("http://[::1]/x", "loopback"),
    ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),  # the metadata address, IPv4-mapped
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # ... through NAT64
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[2002:c0a8:0101::]/", "private"),  # 6to4 of 192.168.1.1
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("ftp://127.0.0.1/data.jsonl", "loopback"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrlError) as err:
        check_url(url)
    assert why in err.value.message
    assert "allow_private_urls" in (err.value.hint or "")
    check_url(url, allow_private=True)  # the setting lets every one of them through


@pytest.mark.parametrize("url", ["https://8.8.8.8/x", "http://[2001:4860:4860::8888]/x"])
def test_public_addresses_pass(url: str) -> None:
    check_url(url)


def test_other_schemes_refused() -> None:
    for url in ("file:///etc/passwd", "gopher://example.com/", "data:text/plain,x"):
        with pytest.raises(UnsafeUrlError, match="scheme"):
            check_url(url, allow_private=True)


def test_s3_checks_the_endpoint() -> None:
    with pytest.raises(UnsafeUrlError, match="loopback"):
        check_url("s3://bucket/key", s3_endpoint="http://127.0.0.1:9000")
    check_url("s3://bucket/key", s3_endpoint="http://127.0.0.1:9000", allow_private=True)


class _Redirects(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path.startswith("/to-metadata"):
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif self.path.startswith("/to-local"):
            self._redirect("/data.jsonl")
        else:
            body = b'{"text": "hi"}\n'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def redirector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _guard_except(origin: str) -> Access:
    """The studio's guard, except that ``origin`` (the test server) counts as public."""
    guard = UrlGuard()

    def check(url: str) -> None:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            guard.url(url)

    return Access(check_url=check)


def test_redirect_to_metadata_is_refused(redirector: str) -> None:
    with pytest.raises(UnsafeUrlError, match=r"169\.254\.169\.254 is a link-local"):
        open_url(f"{redirector}/to-metadata", _guard_except(redirector))


def test_redirect_within_the_allowed_server_is_followed(redirector: str) -> None:
    stream, _ = open_url(f"{redirector}/to-local", _guard_except(redirector))
    with stream:
        assert stream.read() == b'{"text": "hi"}\n'


def test_guard_refuses_the_first_hop(redirector: str) -> None:
    with pytest.raises(UnsafeUrlError, match="loopback"):
        open_url(f"{redirector}/data.jsonl", Access(check_url=UrlGuard().url))
    stream, _ = open_url(f"{redirector}/data.jsonl", Access(check_url=UrlGuard(True).url))
    stream.close()


def test_resolved_addresses_are_checked(redirector: str) -> None:
    """A name (not a literal) is checked on the address the connection resolves (DNS rebinding)."""
    port = urlsplit(redirector).port
    seen: list[tuple[str, str]] = []

    def address(host: str, found: str) -> None:
        seen.append((host, found))
        UrlGuard().address(host, found)

    with pytest.raises(UnsafeUrlError, match="loopback"):
        open_url(f"http://localhost:{port}/data.jsonl", Access(check_address=address))
    assert seen and seen[0][0] == "localhost"
