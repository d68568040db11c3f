"""Real servers on loopback for the remote-source tests: http.server, pyftpdlib FTP, moto S3.

Each server serves a folder (HTTP, FTP) or buckets (S3) of this test session; nothing leaves the
machine. The credentials are distinctive strings so a test can grep every written file for them.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FTP_USER = "alice"
FTP_PASSWORD = "ftp-Pa55-zq81xk"
HTTP_USER = "bob"
HTTP_PASSWORD = "http-Pa55-vv02mn"
S3_KEY_ID = "AKIASFTFORGETEST0001"
S3_SECRET = "s3-SeCrEt-9f8e7d6c5b4a"
SECRETS = (FTP_PASSWORD, HTTP_PASSWORD, S3_SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    return free_port()


class _Quiet(SimpleHTTPRequestHandler):
    """Serves a folder; with ``auth`` set, only to requests carrying that basic-auth pair."""

    auth: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _allowed(self) -> bool:
        if self.auth is None or self.headers.get("Authorization") == self.auth:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="t"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._allowed():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._allowed():
            super().do_HEAD()


@contextmanager
def http_server(root: Path, *, auth: bool = False) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` serving ``root`` (basic auth HTTP_USER/HTTP_PASSWORD if asked)."""
    token = base64.b64encode(f"{HTTP_USER}:{HTTP_PASSWORD}".encode()).decode()
    handler = type("H", (_Quiet,), {"auth": f"Basic {token}" if auth else None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def ftp_server(root: Path) -> Iterator[str]:
    """``ftp://127.0.0.1:<port>`` (no credentials in it) serving ``root`` to FTP_USER/FTP_PASSWORD."""
    with warnings.catch_warnings():  # pyftpdlib imports asyncore, deprecated in Python 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(root), perm="elradfmwMT")
    handler = type("H", (FTPHandler,), {"authorizer": authorizer, "banner": "test"})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    stop = threading.Event()

    def serve() -> None:
        # one poll at a time, and the close in this same thread: closing the server from
        # another thread while it polls closed the poller under it (EBADF in this thread)
        while not stop.is_set():
            server.serve_forever(timeout=0.1, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ftp://127.0.0.1:{server.address[1]}"
    finally:
        stop.set()
        thread.join(10)


@dataclass
class S3:
    endpoint: str
    client: Any

    def put(self, bucket: str, key: str, body: bytes) -> str:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.client.create_bucket(Bucket=bucket)
        self.client.put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    def get(self, bucket: str, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())


@contextmanager
def s3_server() -> Iterator[S3]:
    """moto in server mode on loopback, and a boto3 client for it (test credentials)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    try:
        yield S3(endpoint, client)
    finally:
        server.stop()


@dataclass
class Proxy:
    """A forward HTTP proxy on loopback: ``url``; ``hosts`` maps names only it knows to a
    loopback ``(host, port)``; ``seen`` lists the absolute URLs it was asked for."""

    url: str
    hosts: dict[str, tuple[str, int]]
    seen: list[str]


class _Forward(BaseHTTPRequestHandler):
    proxy: Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        target = urlsplit(self.path)  # a proxy is asked for the absolute URL
        self.proxy.seen.append(self.path)
        known = self.proxy.hosts.get(target.hostname or "")
        if known is None:
            self.send_error(502, "unknown host")
            return
        conn = http.client.HTTPConnection(*known, timeout=10)
        hop = {"connection", "proxy-connection", "keep-alive", "host", "proxy-authorization"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        path = target.path + (f"?{target.query}" if target.query else "")
        conn.request(self.command, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in hop | {"transfer-encoding", "content-length"}:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        conn.close()

    do_GET = do_HEAD = _relay


@contextmanager
def http_proxy(hosts: dict[str, tuple[str, int]]) -> Iterator[Proxy]:
    proxy = Proxy("", hosts, [])
    handler = type("P", (_Forward,), {"proxy": proxy})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
