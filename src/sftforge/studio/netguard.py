"""URL safety for the studio's remote sources (server-side request forgery).

A browser user may name any URL, and the studio fetches it from the server's network: without a
check that is a way to reach the cloud metadata service (``169.254.169.254``), the studio's own
API on loopback, or machines on the private network. ``check_url`` resolves the host and refuses
it when any address it resolves to is loopback, link-local (``169.254.0.0/16``, ``fe80::/10``),
private (RFC 1918, ``fc00::/7``, CGNAT ``100.64.0.0/10``), multicast, reserved or unspecified,
IPv4 written in IPv6 form (``::ffff:127.0.0.1``, ``64:ff9b::``, 6to4) included. Hosts written as
decimal or hex numbers (``2130706433``, ``0x7f.1``) are parsed the way the C resolver does, so
they cannot slip by as names. ``StudioSettings.allow_private_urls`` turns the check off (a studio
on a laptop reading from a NAS on the home network).

HTTP redirects are re-checked hop by hop: ``guard(settings)`` gives ``sftforge.io.remote`` a
callback that runs before every request and on every connection's resolved address (so a name
that resolves to a public address for the check and a private one for the connection, DNS
rebinding, is refused too). FTP and S3 endpoints are checked before connecting.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InputError

__all__ = [
    "UnsafeUrlError",
    "UrlGuard",
    "check_address",
    "check_host",
    "check_url",
    "unsafe_reason",
]

_SCHEMES = ("http", "https", "ftp", "s3")
_HINT = (
    "name a public address; to read from this machine or the local network, start the studio "
    "with allow_private_urls (--allow-private-urls)"
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrlError(InputError):
    """A URL whose host is on loopback, link-local, a private network or otherwise not public."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    packed = int(ip)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (deprecated IPv4-compatible form)
        return ipaddress.IPv4Address(packed)
    return None


def unsafe_reason(ip: _IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``"loopback"``, ``"link-local"``...), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = unsafe_reason(inner)
            if why:
                return why
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives here)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and (ip in _CGNAT or ip in _BENCHMARK):
        return "private"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:
        return "not public"
    return None


def check_address(address: str, *, host: str | None = None, allow_private: bool = False) -> None:
    """Raise ``UnsafeUrlError`` when ``address`` (an IP) is not public and private is not allowed."""
    if allow_private:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: the zone is not the address
    why = unsafe_reason(ip)
    if why:
        shown = f"{host} ({ip})" if host and host != str(ip) else str(ip)
        raise UnsafeUrlError(f"refused: {shown} is a {why} address.", hint=_HINT)


def _literal(host: str) -> _IPAddress | None:
    """``host`` as an IP address when it is written as one, in any form the C resolver accepts
    (``127.1``, ``0x7f000001``, ``2130706433``, ``[::1]``)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    try:  # inet_aton takes the old shorthand forms that ip_address refuses
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def _resolve(host: str, port: int | None) -> Iterable[str]:
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(
            f"cannot resolve host {host}: {exc}.", hint="check the host name in the URL"
        ) from None
    return {str(info[4][0]) for info in infos}


def check_host(host: str, port: int | None = None, *, allow_private: bool = False) -> None:
    """Refuse ``host`` when it is, or resolves to, any address that is not public."""
    if allow_private:
        return
    if not host:
        raise UnsafeUrlError("refused: the URL names no host.", hint="write the host in the URL")
    literal = _literal(host)
    if literal is not None:
        check_address(str(literal), host=host)
        return
    if host.rstrip(".").lower() in ("localhost",) or host.lower().endswith(".localhost"):
        raise UnsafeUrlError(f"refused: {host} is a loopback address.", hint=_HINT)
    for address in _resolve(host, port):
        check_address(address, host=host)


def check_url(url: str, *, allow_private: bool = False, s3_endpoint: str | None = None) -> None:
    """Refuse ``url`` unless it is http(s), ftp or s3 to a public host (the S3 endpoint's host
    for ``s3://``; AWS itself when no endpoint is given)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UnsafeUrlError(
            f"refused: {scheme or 'no'} scheme; the studio reads http, https, ftp and s3 URLs.",
            hint="write the URL as https://host/path, ftp://host/path or s3://bucket/key",
        )
    if scheme == "s3":
        if s3_endpoint:
            check_url(s3_endpoint, allow_private=allow_private)
        return
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrlError("refused: the URL has a bad port number.") from None
    check_host(parts.hostname or "", port, allow_private=allow_private)


@dataclass(frozen=True)
class UrlGuard:
    """The check ``sftforge.io.remote`` runs before each request (each redirect hop) and on each
    connection's resolved address."""

    allow_private: bool = False

    def url(self, url: str) -> None:
        check_url(url, allow_private=self.allow_private)

    def address(self, host: str, address: str) -> None:
        check_address(address, host=host, allow_private=self.allow_private)
