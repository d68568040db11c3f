"""A check on the address every LLM HTTP connection really goes to (DNS rebinding), proxies
included.

The studio checks an LLM base URL when a run is asked for and when its job starts, but a name can
resolve to a public address then and to ``127.0.0.1`` or ``169.254.169.254`` a moment later.
``checking_peers(check)`` sets, for the code it wraps (the studio's run job), a callable
``check(host, address)`` that raises to refuse; ``OpenAIHTTPProvider`` then makes its client with
``checked_client``. Without a check set (the CLI) nothing changes.

The client is httpx's own with ``trust_env`` (what the CLI gets), so ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` apply exactly as httpx applies them; then:

- a connection made **directly** (no proxy for the URL, or ``NO_PROXY`` names its host) is
  resolved here, every address checked, and made to the checked address: no second lookup
  between the check and the connection;
- a request that goes **through a proxy** connects to the proxy, which resolves the target
  itself: the proxy is the server's own setting (its environment, not a user's URL), so its
  address is not checked; the target's host is, before each request, by the same rules (an
  address as written; a name resolved here, every address it has). A name that does not resolve
  here is refused: it cannot be checked. What this cannot close: the proxy looks the name up
  again, so a name that changes its address between the two lookups reaches what the proxy
  reaches (the proxy's own rules are the last line there, or ``NO_PROXY`` for the LLM host).

httpx has no public seam for either step; ``checked_client`` uses its connection pool's
``_network_backend`` and the client's ``_mounts`` (httpx 0.27 to 0.29) and fails closed, with
one line, on an httpx that moved them: an unchecked connection is not an option here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from ..errors import LLMError

__all__ = ["AddressCheck", "checked_client", "checking_peers", "current_check"]

AddressCheck = Callable[[str, str], None]  # (host, resolved address); raises to refuse

_CHECK: ContextVar[AddressCheck | None] = ContextVar("sftforge_llm_peer_check", default=None)
# the variable a proxy mount comes from (httpx keys its environment proxies by scheme)
_PROXY_VARIABLE = {"http://": "HTTP_PROXY", "https://": "HTTPS_PROXY", "all://": "ALL_PROXY"}


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


def _unsupported(what: str) -> LLMError:
    import httpx

    return LLMError(
        f"this httpx ({httpx.__version__}) cannot check the address of each connection"
        f" (no {what}).",
        hint="use httpx 0.27 to 0.29, whose connection pool takes this check (no extra pins "
        "it: this is the range it was written for)",
    )


async def _addresses(host: str, port: int, timeout: float | None) -> list[str]:
    """Every address ``host`` resolves to here (an address written as one: itself)."""
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))]
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
    )  # the lookup counts against the connect timeout, as httpx's own lookup does
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _guarded_backend(check: AddressCheck) -> Any:
    import httpcore

    class _GuardedBackend(httpcore.AnyIOBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            try:
                addresses = await _addresses(host, port, timeout)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"timed out resolving {host}") from exc
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
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

    return _GuardedBackend()


def _guard_pool(transport: Any, check: AddressCheck) -> Any:
    """``transport`` (httpx's) with every TCP connection resolved and checked first."""
    # the pool reads its network backend on each new connection
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        raise _unsupported("connection pool's network backend")
    pool._network_backend = _guarded_backend(check)
    return transport


def _proxied_transport(inner: Any, check: AddressCheck, variable: str) -> Any:
    """``inner`` (a proxy's transport) checking each request's target host first."""
    import httpx

    class _ProxiedTarget(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            host = request.url.host
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            timeout = (request.extensions.get("timeout") or {}).get("connect")
            try:
                addresses = await _addresses(host, port, timeout)
            except (OSError, TimeoutError) as exc:
                raise LLMError(
                    f"cannot check {host} before the request goes to the proxy ({variable}):"
                    f" it does not resolve here ({exc or 'timed out'}).",
                    hint="the studio checks every LLM host's address; let this machine resolve"
                    " it, or start the studio with --allow-private-urls to leave it to the"
                    " proxy",
                ) from None
            for address in addresses:
                check(host, address)
            return await inner.handle_async_request(request)

        async def aclose(self) -> None:
            await inner.aclose()

    return _ProxiedTarget()


def checked_client(check: AddressCheck, **options: Any) -> Any:
    """An ``httpx.AsyncClient(**options)`` that takes the environment's proxies as the CLI's
    does, with every direct connection's address and every proxied request's target checked
    (see the module docstring)."""
    import httpx

    client = httpx.AsyncClient(trust_env=True, **options)
    mounts = getattr(client, "_mounts", None)
    if not isinstance(mounts, dict) or not hasattr(client, "_transport"):
        raise _unsupported("client mounts")
    _guard_pool(client._transport, check)  # direct connections, NO_PROXY hosts included
    for pattern, transport in list(mounts.items()):
        if transport is not None:  # a proxy (None: NO_PROXY, the direct transport above)
            key = str(getattr(pattern, "pattern", ""))
            variable = _PROXY_VARIABLE.get(key, f"the proxy for {key}")
            mounts[pattern] = _proxied_transport(transport, check, variable)
    return client
