"""A check on the address every LLM HTTP connection really goes to (DNS rebinding).

The studio checks an LLM base URL when a run is asked for and when its job starts, but a name can
resolve to a public address then and to ``127.0.0.1`` or ``169.254.169.254`` a moment later.
``checking_peers(check)`` sets, for the code it wraps (the studio's run job), a callable
``check(host, address)`` that raises to refuse; ``OpenAIHTTPProvider`` then opens its connections
through ``guarded_transport``, which resolves the host itself, checks every address and connects
to the checked address (no second lookup between the check and the connection). Without a check
set (the CLI) nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from ..errors import LLMError

__all__ = ["AddressCheck", "checking_peers", "current_check", "guarded_transport"]

AddressCheck = Callable[[str, str], None]  # (host, resolved address); raises to refuse

_CHECK: ContextVar[AddressCheck | None] = ContextVar("sftforge_llm_peer_check", default=None)


@contextlib.contextmanager
def checking_peers(check: AddressCheck | None) -> Iterator[None]:
    """Check every LLM connection opened inside the block with ``check`` (None: no check)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def current_check() -> AddressCheck | None:
    return _CHECK.get()


def guarded_transport(check: AddressCheck) -> Any:
    """An ``httpx.AsyncHTTPTransport`` whose every TCP connection is resolved and checked first."""
    import httpcore
    import httpx

    class _GuardedBackend(httpcore.AnyIOBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            loop = asyncio.get_running_loop()
            try:  # the lookup counts against the connect timeout, as httpx's own lookup does
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
                )
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"timed out resolving {host}") from exc
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
            for address in addresses:  # every address first: a refused one fails the call
                check(host, address)
            last: BaseException | None = None
            for address in addresses:
                try:
                    return await super().connect_tcp(
                        address, port, timeout, local_address, socket_options
                    )
                except httpcore.ConnectError as exc:
                    last = exc
            raise last or httpcore.ConnectError(f"no address for {host}")

    transport = httpx.AsyncHTTPTransport()
    # httpx has no public seam for the network backend; the pool reads it on each new connection.
    # Fail closed if a later httpx moves it: an unchecked connection is not an option here.
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        raise LLMError(
            f"this httpx ({httpx.__version__}) cannot check the address of each connection.",
            hint="use httpx 0.27 to 0.29, whose connection pool takes this check (no extra pins "
            "it: this is the range it was written for)",
        )
    pool._network_backend = _GuardedBackend()
    return transport
