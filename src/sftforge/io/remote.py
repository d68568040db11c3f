"""Remote files: ``http(s)://``, ``ftp://`` and ``s3://`` (any S3-compatible store), read as streams.

The protocols are the libraries' work: fsspec's HTTP (aiohttp) and FTP (ftplib) filesystems,
boto3 for S3. This module only maps a URL to the right library, turns its errors into one line
that names the URL and the fix, and keeps credentials out of everything it shows.

Credentials never come from sftforge's own files: S3 uses boto3's chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws/credentials`` or
``AWS_SHARED_CREDENTIALS_FILE``); the endpoint of a non-AWS store (MinIO, Alibaba OSS, Tencent
COS) comes from ``sftforge --s3-endpoint``, ``SFTFORGE_S3_ENDPOINT``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL`` or ``endpoint_url`` in ``~/.aws/config``. FTP takes ``user:password@`` in
the URL, ``SFTFORGE_FTP_USER`` / ``SFTFORGE_FTP_PASSWORD``, or ``~/.netrc`` (``NETRC``); HTTP
takes ``user:password@`` (basic auth). ``shown(url)`` is the URL as sftforge prints it: the
password and secret query values (signatures, tokens) replaced by ``***``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from ..errors import InputError
from .paths import REMOTE_SCHEMES, is_url

__all__ = [
    "REMOTE_SCHEMES",
    "Access",
    "check_writable",
    "is_url",
    "open_url",
    "scrub",
    "shown",
    "spool",
    "upload",
]

_INSTALL = "pip install 'sftforge[remote]'"
_SECRET_PARAM = re.compile(r"sig|signature|token|secret|passw|pwd|credential|key", re.I)
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")
_BLOCK = 1 << 22
_known_secrets: set[str] = set()  # every secret used in this process, masked wherever printed


def shown(url: str) -> str:
    """``url`` with the password and secret query values replaced by ``***``."""
    if "://" not in url:
        return url
    out = _USERINFO.sub(r"\g<head>:***@", url)
    base, sep, query = out.partition("?")
    if not sep:
        return out
    pieces = []
    for piece in query.split("&"):
        key, eq, _ = piece.partition("=")
        pieces.append(f"{key}=***" if eq and _SECRET_PARAM.search(key) else piece)
    return f"{base}?{'&'.join(pieces)}"


def scrub(text: str) -> str:
    """``text`` with URL passwords and every credential this process used masked as ``***``."""
    text = _USERINFO.sub(r"\g<head>:***@", text)
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _remember(*secrets: str | None) -> None:
    for s in secrets:
        if s and len(s) >= 3:
            _known_secrets.add(s)


@dataclass(frozen=True)
class Access:
    """How one call reaches a remote file when the environment is not the place to say it (the
    studio's saved connections, several users in one process): S3 credentials and endpoint, and
    a guard that may refuse a URL before each request (each HTTP redirect hop, the FTP host, the
    S3 endpoint) and each address a connection resolves to, by raising ``InputError``."""

    s3_endpoint: str | None = None
    s3_key_id: str | None = None
    s3_secret: str | None = None
    s3_region: str | None = None
    check_url: Callable[[str], None] | None = None
    check_address: Callable[[str, str], None] | None = None  # (host, resolved address)


@dataclass(frozen=True)
class _Url:
    scheme: str
    host: str
    port: int | None
    user: str | None
    password: str | None
    path: str  # the path on the server; for s3 the key
    bucket: str  # s3 only
    plain: str  # the URL without user:password@, for the library
    shown: str


def _parse(url: str) -> _Url:
    from urllib.parse import unquote, urlsplit  # (not needed by a local run)

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise InputError("the URL has a bad port number.", file=shown(url)) from None
    host = parts.hostname or ""
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    _remember(password)
    plain = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # [::1]:80 kept
    path = unquote(parts.path)
    bucket = ""
    if scheme == "s3":
        bucket, path = host, path.lstrip("/")
    if not host or (scheme == "s3" and not path):
        raise InputError(
            "the URL names no host or object.",
            file=shown(url),
            hint="write it as s3://bucket/key, ftp://host/path or https://host/path",
        )
    return _Url(scheme, host, port, user, password, path, bucket, plain, shown(url))


class _Remote(io.RawIOBase):
    """A library's read stream as a plain raw stream that counts bytes (``tell`` for progress)
    and turns the library's mid-stream errors into one-line ``InputError`` values."""

    def __init__(self, inner: Any, url: _Url) -> None:
        self._inner = inner
        self._url = url
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buf))
        except Exception as exc:  # any library error mid-transfer ends this input
            raise _error(exc, self._url, "reading") from None
        n = len(data)
        buf[:n] = data
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._inner.close()
        super().close()


def open_url(url: str, access: Access | None = None) -> tuple[BinaryIO, int | None]:
    """A buffered byte stream of the remote file at ``url`` and its size when the server says."""
    loc = _parse(url)
    access = access or Access()
    try:
        if loc.scheme == "s3":
            inner, size = _open_s3(loc, access)
        elif loc.scheme == "ftp":
            if access.check_url is not None:
                access.check_url(loc.plain)
            fs = _ftp(loc)
            inner = fs.open(loc.path, "rb", block_size=_BLOCK)
            size = inner.size
        else:
            fs = _http(loc, access)
            size = fs.info(loc.plain).get("size")
            inner = fs.open(loc.plain, "rb", block_size=0)  # 0: one streamed GET, no ranges
    except InputError as err:
        err.file = err.file or loc.shown
        raise
    except Exception as exc:
        raise _error(exc, loc, "opening") from None
    stream = io.BufferedReader(_Remote(inner, loc), buffer_size=1 << 20)
    return cast(BinaryIO, stream), int(size) if size is not None else None


def spool(stream: BinaryIO) -> BinaryIO:
    """A seekable copy of ``stream`` in a temporary file (deleted on close): for containers that
    need random access (Parquet, Arrow) read from a pipe or a remote file, memory stays flat."""
    import shutil
    import tempfile

    tmp = tempfile.TemporaryFile(prefix="sftforge-spool-")  # noqa: SIM115 - the caller closes it
    try:
        shutil.copyfileobj(stream, tmp, 1 << 20)
    except BaseException:
        tmp.close()
        raise
    tmp.seek(0)
    return cast(BinaryIO, tmp)


def check_writable(url: str) -> None:
    """Refuse, before any work, a URL that cannot be written (http(s), or no file name)."""
    loc = _parse(url)
    if loc.scheme not in ("s3", "ftp") or not loc.path or loc.path.endswith("/"):
        raise InputError(
            "cannot write here: outputs go to s3:// and ftp:// files only.",
            file=loc.shown,
            hint="write to a local path, s3://bucket/key/file.jsonl or ftp://host/folder/file.jsonl",
        )


def upload(local: str, url: str) -> None:
    """Copy the finished local file ``local`` to ``url`` (S3 or FTP). The object appears whole:
    S3 makes it visible when the upload completes; FTP writes a temporary name, then renames."""
    loc = _parse(url)
    try:
        if loc.scheme == "s3":
            from boto3.s3.transfer import S3Transfer  # multipart for large files

            S3Transfer(_s3_client()).upload_file(local, loc.bucket, loc.path)
        elif loc.scheme == "ftp":
            fs = _ftp(loc)
            folder, _, name = loc.path.rpartition("/")
            if folder:
                fs.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/.{name}.tmp" if folder else f".{name}.tmp"
            fs.put_file(local, tmp)
            fs.mv(tmp, loc.path)
        else:
            check_writable(url)
    except InputError:
        raise
    except Exception as exc:
        raise _error(exc, loc, "writing") from None


def _fsspec(protocol: str, **options: Any) -> Any:
    try:
        import fsspec
    except ImportError:
        raise InputError(f"reading {protocol}:// needs the remote extra.", hint=_INSTALL) from None
    try:
        return fsspec.filesystem(protocol, skip_instance_cache=True, **options)
    except ImportError:
        raise InputError(f"reading {protocol}:// needs the remote extra.", hint=_INSTALL) from None


def _http(loc: _Url, access: Access | None = None) -> Any:
    options: dict[str, Any] = {}
    # the environment's proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), as pip, requests
    # and the LLM client take them: aiohttp ignores them unless told (also ~/.netrc, which
    # aiohttp then reads for a host given no credentials, as curl -n and requests do)
    client: dict[str, Any] = {"trust_env": True}
    if loc.user is not None:  # basic auth as a header: aiohttp 3.14 deprecates its BasicAuth
        import base64

        pair = base64.b64encode(f"{loc.user}:{loc.password or ''}".encode()).decode("ascii")
        client["headers"] = {"Authorization": f"Basic {pair}"}
    if access is not None and (access.check_url or access.check_address):
        options["get_client"] = _guarded_client(access)
    options["client_kwargs"] = client
    return _fsspec("http", **options)


def _proxy_hosts() -> frozenset[str]:
    """The hosts of the environment's proxies (``urllib.request.getproxies``, which reads the
    variables aiohttp reads)."""
    import urllib.request
    from urllib.parse import urlsplit

    hosts = set()
    for scheme, proxy in urllib.request.getproxies().items():
        if scheme == "no":  # NO_PROXY's list of hosts, not a proxy
            continue
        host = urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)


def _guarded_client(access: Access) -> Callable[..., Any]:
    """fsspec's ``get_client`` for an aiohttp session that runs ``access``'s checks on every
    request (so on every redirect hop) and on every address its resolver returns.

    A request through one of the environment's proxies connects to the proxy, which resolves
    the target itself: the proxy is the server's own setting (its environment, not a user's
    URL), so its addresses are not checked; the target is, before each request, by ``check_url``
    (a name resolved here, every address it has), as ``sftforge.llm.peer_check`` does for LLM
    calls. What this cannot close: the proxy looks the name up again."""
    import aiohttp
    from aiohttp.abc import AbstractResolver
    from yarl import URL

    proxies = _proxy_hosts()

    class _Resolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = aiohttp.DefaultResolver()

        async def resolve(self, host: str, port: int = 0, family: Any = 0) -> Any:
            found = await self._inner.resolve(host, port, family)
            if access.check_address is not None and host.lower() not in proxies:
                for entry in found:
                    access.check_address(host, entry["host"])
            return found

        async def close(self) -> None:
            await self._inner.close()

    async def on_request_start(_session: Any, _ctx: Any, params: Any) -> None:
        if access.check_url is not None:
            access.check_url(str(params.url))

    async def on_request_redirect(_session: Any, _ctx: Any, params: Any) -> None:
        # aiohttp signals request_start once per call: each hop's target is checked here
        location = params.response.headers.get("Location")
        if access.check_url is not None and location:
            access.check_url(str(params.response.url.join(URL(location))))

    async def get_client(**kwargs: Any) -> Any:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_request_start)
        trace.on_request_redirect.append(on_request_redirect)
        trace.freeze()
        kwargs.pop("loop", None)
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=_Resolver()), trace_configs=[trace], **kwargs
        )

    return get_client


def _ftp(loc: _Url) -> Any:
    user, password = loc.user, loc.password
    if user is None:
        user = os.environ.get("SFTFORGE_FTP_USER")
        password = os.environ.get("SFTFORGE_FTP_PASSWORD")
    if user is None:
        import netrc  # (here: only an FTP login reads it)

        with contextlib.suppress(OSError, netrc.NetrcParseError):
            found = netrc.netrc(os.environ.get("NETRC")).authenticators(loc.host)
            if found:
                user, _, password = found
    _remember(password)
    return _fsspec(
        "ftp",
        host=loc.host,
        port=loc.port or 21,
        username=user,
        password=password,
        timeout=30,
    )


def _s3_client(access: Access | None = None) -> Any:
    """A botocore S3 client (boto3's credential chain and endpoint settings, or ``access``'s;
    plain botocore for reading, since importing boto3 costs another 0.2 s at every start)."""
    try:
        import botocore.session
        from botocore.config import Config
    except ImportError:
        raise InputError("reading s3:// needs the remote extra.", hint=_INSTALL) from None
    access = access or Access()
    endpoint = access.s3_endpoint or os.environ.get("SFTFORGE_S3_ENDPOINT") or None
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=120
    )
    session = botocore.session.get_session()
    options: dict[str, Any] = {}
    if access.s3_key_id and access.s3_secret:
        _remember(access.s3_secret)
        options = {
            "aws_access_key_id": access.s3_key_id,
            "aws_secret_access_key": access.s3_secret,
        }
    else:
        creds = session.get_credentials()
        if creds is not None:
            _remember(creds.secret_key, creds.token)
    if access.s3_region:
        options["region_name"] = access.s3_region
    if access.check_url is not None:  # the endpoint the client will talk to (AWS when none)
        access.check_url(endpoint or "https://s3.amazonaws.com/")
    return session.create_client("s3", endpoint_url=endpoint, config=config, **options)


def _open_s3(loc: _Url, access: Access | None = None) -> tuple[Any, int | None]:
    resp = _s3_client(access).get_object(Bucket=loc.bucket, Key=loc.path)
    return resp["Body"], resp.get("ContentLength")


def _error(exc: BaseException, loc: _Url, doing: str) -> InputError:
    """The library error ``exc`` as one line: what went wrong at which (masked) URL, and the fix."""
    cause: BaseException | None = exc
    while cause is not None:  # a guard's refusal raised inside the library comes out as it was
        if isinstance(cause, InputError):
            cause.file = cause.file or loc.shown
            return cause
        cause = cause.__cause__
    message, hint = _classify(exc, loc)
    return InputError(scrub(f"{message} ({doing})"), file=loc.shown, hint=hint)


def _classify(exc: BaseException, loc: _Url) -> tuple[str, str]:
    # fsspec's HTTP info() reports every failure as FileNotFoundError: the cause says which
    while loc.scheme != "ftp" and isinstance(exc, FileNotFoundError) and exc.__cause__:
        exc = exc.__cause__
    name = type(exc).__name__
    text = scrub(str(exc)).strip().splitlines()[0][:200] if str(exc).strip() else name
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = str(response.get("Error", {}).get("Code", ""))
    status = getattr(exc, "status", None)  # aiohttp ClientResponseError
    where = {"s3": "S3 endpoint", "ftp": "FTP server"}.get(loc.scheme, "web server")
    if name == "NoCredentialsError":
        return (
            "no S3 credentials found.",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a credentials file "
            "(~/.aws/credentials, or AWS_SHARED_CREDENTIALS_FILE)",
        )
    if code in ("NoSuchKey", "404") or isinstance(exc, FileNotFoundError) or status == 404:
        return "no such file on the server.", "check the path (and the bucket) in the URL"
    if "550" in text and loc.scheme == "ftp":
        return f"the FTP server refused the file: {text}.", "check the path in the URL"
    if code == "NoSuchBucket":
        return "no such bucket.", "check the bucket name, and the endpoint (--s3-endpoint)"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "401"):
        return (
            f"the S3 endpoint refused the credentials ({code}).",
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the credentials file) and "
            "that they may read this bucket",
        )
    if status in (401, 403):
        return (
            f"the web server refused access (HTTP {status}).",
            "check the user and password in the URL",
        )
    if loc.scheme == "ftp" and text.startswith("530"):
        return (
            "the FTP server refused the login (530).",
            "check the user and password (in the URL, SFTFORGE_FTP_USER/SFTFORGE_FTP_PASSWORD "
            "or ~/.netrc)",
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError") or isinstance(
        exc, (ConnectionError, TimeoutError, OSError)
    ):
        hint = "check the host and port, and that the server is running and reachable"
        if loc.scheme == "s3":
            hint += " (the endpoint comes from --s3-endpoint or AWS_ENDPOINT_URL)"
        return f"cannot reach the {where}: {text}.", hint
    return f"the {where} failed: {name}: {text}.", "check the URL and the server"
