"""HTTP(S) URLs go through the environment's proxies (``HTTP_PROXY``, ``NO_PROXY``), as pip,
requests and the LLM client do; with the studio's guard, the target is checked before each
request and the proxy's own address (the server's setting) is not.

The target host is a name only the loopback proxy knows (``data.example.invalid``): reading it
at all proves the request went through the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from servers import Proxy, http_proxy

from sftforge.cli.main import main
from sftforge.errors import InputError
from sftforge.io.remote import Access, open_url

ROWS = [{"instruction": f"问题 {i}", "input": "", "output": f"答案 {i}"} for i in range(20)]
DATA = b"".join(orjson.dumps(r) + b"\n" for r in ROWS)
NAME = "data.example.invalid"  # .invalid never resolves (RFC 2606)
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy(http: str, served: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    (served / "proxied.jsonl").write_bytes(DATA)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    port = urlsplit(http).port
    assert port is not None
    with http_proxy({NAME: ("127.0.0.1", port)}) as p:
        yield p


def _local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    src = tmp_path / "local.jsonl"
    src.write_bytes(DATA)
    assert main(["convert", str(src), str(tmp_path / "ref.jsonl"), "--to", "sharegpt"]) == 0
    capsys.readouterr()
    return (tmp_path / "ref.jsonl").read_bytes()


def test_convert_reads_a_url_through_http_proxy(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    want = _local(tmp_path, capsys)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    url = f"http://{NAME}:8080/proxied.jsonl"
    rc = main(["convert", url, str(tmp_path / "out.jsonl"), "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert (tmp_path / "out.jsonl").read_bytes() == want
    assert url in proxy.seen


def test_no_proxy_connects_directly(
    proxy: Proxy, http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    stream, _ = open_url(f"{http}/proxied.jsonl")
    with stream:
        assert stream.read() == DATA
    assert proxy.seen == []


def test_guard_checks_the_target_not_the_proxy(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy is named ``localhost`` (resolved, so its address would be checked and refused as
    loopback): through it the guard sees the target's URL, never the proxy's address."""
    port = urlsplit(proxy.url).port
    monkeypatch.setenv("HTTP_PROXY", f"http://localhost:{port}")
    urls: list[str] = []
    addresses: list[tuple[str, str]] = []

    def refuse(host: str, address: str) -> None:
        addresses.append((host, address))
        raise InputError(f"refused: {host} is {address}")

    url = f"http://{NAME}:8080/proxied.jsonl"
    stream, _ = open_url(url, Access(check_url=urls.append, check_address=refuse))
    with stream:
        assert stream.read() == DATA
    assert urls and set(urls) == {url} and addresses == []

    # a target the guard refuses is refused before anything is sent
    def no(target: str) -> None:
        raise InputError(f"refused: {target}")

    sent = len(proxy.seen)
    with pytest.raises(InputError, match="refused"):
        open_url(url, Access(check_url=no, check_address=refuse))
    assert len(proxy.seen) == sent


def test_guard_checks_a_direct_connection_by_address(
    proxy: Proxy, http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not through a proxy (``NO_PROXY``), a name's resolved addresses are checked as before."""
    port = urlsplit(http).port
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost")
    addresses: list[tuple[str, str]] = []

    def refuse(host: str, address: str) -> None:
        addresses.append((host, address))
        raise InputError(f"refused: {host} is {address}")

    with pytest.raises(InputError, match="refused: localhost"):
        open_url(f"http://localhost:{port}/proxied.jsonl", Access(check_address=refuse))
    assert addresses and addresses[0][0] == "localhost" and proxy.seen == []
