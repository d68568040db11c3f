"""Where an import's data comes from, made into a file the importer may read.

- ``server_path``: a file or folder inside ``data_root`` (``paths.confine``: no ``..``, no
  symlink out); read where it is.
- ``url``: ``http(s)://``, ``ftp://`` or ``s3://``, alone or through a saved connection (which
  gives the login, the S3 endpoint and keys): checked by ``netguard`` in the request
  (``check_url_source``), then, in the ``source_import`` job (``run_source_import``), checked
  again and streamed by ``sftforge.io.remote.open_url`` into ``staging/<source id>/`` with at
  most ``max_upload_bytes`` bytes (``download``), imported, and deleted once imported.
- ``hf``: a Hugging Face dataset, a ``save_to_disk`` folder inside ``data_root`` or an id
  (``owner/name``, read from the local hub cache by ``sftforge.io.hub``); the folder is handed
  to the importer, which reads it with ``sftforge.io.folders``.

Every kind ends in ``Staged``: the server path to import and the name the user sees (the URL with
its credentials masked, the path relative to the data root). The readers are the library's own;
this module only checks, copies bytes and names.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import InputError
from ..io import remote
from ..io.folders import resolve_dataset
from . import connections as conns
from .errors import ApiError
from .imports import fail_import, run_import_job
from .jobs import JobContext, register
from .netguard import UnsafeUrlError, UrlGuard, check_url
from .paths import confine, relative_to_root
from .settings import StudioSettings
from .store import Store, new_id
from .uploads import release_staged_file, safe_relpath

__all__ = [
    "Staged",
    "UrlSource",
    "check_url_source",
    "download",
    "run_source_import",
    "stage_hf",
    "stage_server_path",
    "staging_target",
]


@dataclass(frozen=True)
class Staged:
    """A file (or dataset folder) the importer reads, and the name the user knows it by."""

    path: str  # a local path, or a folder reference with ``#split`` for the dataset reader
    name: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name}  # never the server path


def stage_server_path(settings: StudioSettings, path: str) -> Staged:
    """``path`` (relative to the data root) confined to the data root."""
    real = confine(settings.data_root, path)
    assert settings.data_root is not None  # confine refuses a missing root
    return Staged(str(real), relative_to_root(settings.data_root, real))


def _file_name(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    try:
        return safe_relpath(name or "download").rpartition("/")[2]
    except ApiError:
        return "download"


@dataclass(frozen=True)
class UrlSource:
    """A checked URL source, ready to download: the URL to open (with the connection's login,
    so never stored or shown), how to reach it, and the URL as the user may see it."""

    full: str
    access: remote.Access
    shown: str


def check_url_source(
    store: Store,
    settings: StudioSettings,
    url: str,
    *,
    connection_id: str | None = None,
) -> UrlSource:
    """``url`` (or ``url`` as a path on the connection) checked against the studio's URL rules
    (``netguard``, unless ``allow_private_urls``): a bad or refused URL is a 400 at once, in the
    request; the download itself is the import job's (``download``)."""
    guard = UrlGuard(allow_private=settings.allow_private_urls)
    conn = conns.get_connection(store, connection_id) if connection_id else None
    secrets = conns.load_secrets(store, connection_id) if connection_id else {}
    if conn is not None and conn.kind in ("url", "ftp"):
        if "://" in url:
            raise ApiError(
                400,
                "invalid",
                "with a connection, name the path on its server, not a whole URL.",
                field="url",
                hint="e.g. data/train.jsonl",
            )
        full = conns.url_with_login(conn, secrets, url)
    elif conn is not None and conn.kind == "s3":
        full = (
            url
            if url.startswith("s3://")
            else f"s3://{conn.settings.get('bucket', '')}/{url.lstrip('/')}"
        )
    elif conn is not None:
        raise ApiError(
            400, "invalid", f"a {conn.kind} connection is not for URLs.", field="connection_id"
        )
    else:
        if "@" in urlsplit(url).netloc:
            raise ApiError(
                400,
                "invalid",
                "the URL carries a login: save it in a connection instead.",
                field="url",
                hint="POST /api/connections, then import with its connection_id",
            )
        full = _without_ambient_login(url)
    shown = remote.shown(full)
    if not remote.is_url(full):
        raise ApiError(
            400,
            "invalid",
            f"not an http(s), ftp or s3 URL: {shown}.",
            field="url",
            hint="write it as https://host/path, ftp://host/path or s3://bucket/key",
        )
    access = conns.remote_access(conn, secrets, guard)
    endpoint = access.s3_endpoint or os.environ.get("SFTFORGE_S3_ENDPOINT")
    try:
        check_url(full, allow_private=settings.allow_private_urls, s3_endpoint=endpoint)
    except InputError as err:  # refused, or a host that does not resolve
        code = "unsafe_url" if isinstance(err, UnsafeUrlError) else "source_failed"
        raise ApiError(400, code, remote.scrub(err.message), field="url", hint=err.hint) from None
    return UrlSource(full, access, shown)


def staging_target(settings: StudioSettings, source: UrlSource) -> Path:
    """Where a URL source's download goes: a fresh ``staging/<id>/<file name>`` (not created)."""
    return settings.folder("staging") / new_id("s") / _file_name(source.full)


def download(
    source: UrlSource,
    target: Path,
    limit: int,
    progress: Callable[[float, str], None] | None = None,
) -> Staged:
    """Download ``source`` into ``target`` (at most ``limit`` bytes); on any failure nothing of
    it stays staged."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # written under another name and renamed when whole: a job re-run after a crash finds
    # either the whole file or none, never a truncated one to import
    partial = target.with_name(target.name + ".part")
    try:
        _download(source.full, source.access, partial, limit, progress)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return Staged(str(target), source.shown)


def _without_ambient_login(url: str) -> str:
    """``url`` such that the server's own credentials are not used for it: the library falls back
    to the environment (AWS keys, ``SFTFORGE_FTP_USER``, ``~/.netrc``), which are the server
    operator's, not the browser user's. S3 therefore needs a saved connection; FTP without
    one logs in as ``anonymous``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        raise ApiError(
            400,
            "invalid",
            "an s3:// URL needs a saved connection (its endpoint and keys).",
            field="url",
            hint="ask an admin to add an S3 connection, then import with its connection_id",
        )
    if scheme == "ftp":
        return parts._replace(netloc="anonymous@" + parts.netloc).geturl()
    return url


def _download(
    url: str,
    access: remote.Access,
    target: Path,
    limit: int,
    progress: Callable[[float, str], None] | None = None,
) -> None:
    try:
        stream, size = remote.open_url(url, access)
    except InputError as err:
        code = "unsafe_url" if isinstance(err, UnsafeUrlError) else "source_failed"
        raise ApiError(400, code, _said(err), field="url", hint=err.hint) from None
    if size is not None and size > limit:
        stream.close()
        raise _too_large(limit)
    got = 0
    try:
        with stream, open(target, "wb") as out:
            while True:
                block = stream.read(1 << 20)
                if not block:
                    break
                got += len(block)
                if got > limit:
                    raise _too_large(limit)
                out.write(block)
                if progress is not None:  # the import then reports its own progress
                    progress(got / size if size else 0.0, f"downloaded {got} bytes")
    except InputError as err:
        raise ApiError(400, "source_failed", _said(err), field="url", hint=err.hint) from None


def _said(err: InputError) -> str:
    """The reader's one line with the URL it names (credentials masked)."""
    where = f"{remote.shown(err.file)}: " if err.file else ""
    return remote.scrub(where + err.message)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the remote file is larger than the {limit}-byte limit.",
        field="url",
        hint="start the studio with a larger --max-upload-bytes",
    )


def stage_hf(
    store: Store, settings: StudioSettings, *, dataset: str, split: str | None = None
) -> Staged:
    """A Hugging Face dataset: ``dataset`` is a ``save_to_disk`` (or shards) folder inside the
    data root, or a hub id ``owner/name[@revision]`` read from the local hub cache."""
    ref_split = f"#{split}" if split else ""
    pieces = dataset.replace("\\", "/").replace("@", "/").split("/")
    if ".." in pieces or "." in pieces or (split and ("/" in split or ".." in split)):
        raise ApiError(
            403,
            "path_outside_root",
            "the dataset name has '..' or '.': it may not leave its folder.",
            field="dataset",
            hint="write owner/name, hf://datasets/owner/name, or a folder in the data root",
        )
    if dataset.startswith("hf://") or (
        dataset.count("/") == 1
        and not dataset.startswith(("/", "."))
        and not _in_root(settings, dataset)
    ):
        hub_id = dataset if dataset.startswith("hf://") else f"hf://datasets/{dataset}"
        ref = hub_id + ref_split
        name = hub_id
    else:
        folder = confine(settings.data_root, dataset)
        if not folder.is_dir():
            raise ApiError(
                400,
                "invalid",
                "a Hugging Face dataset on disk is a folder.",
                field="dataset",
                hint="name the save_to_disk folder, or a data file as a server path",
            )
        assert settings.data_root is not None
        ref = str(folder) + ref_split
        name = relative_to_root(settings.data_root, folder)
    try:
        found = resolve_dataset(ref)
    except InputError as err:
        raise ApiError(
            400,
            "source_failed",
            remote.scrub(err.message.replace(str(settings.data_root or ""), "")),
            field="dataset",
            hint=err.hint,
        ) from None
    if settings.data_root is not None and not dataset.startswith("hf://"):
        root = Path(os.path.realpath(settings.data_root))
        for shard in found.shards:  # a shard symlinked out of the root is an escape too
            real = Path(os.path.realpath(shard))
            if ref.startswith(str(root)) and root not in real.parents:
                raise ApiError(
                    403,
                    "path_outside_root",
                    "a file of the dataset lies outside the data root.",
                    field="dataset",
                )
    # the resolved local folder (a hub id is a folder of the hub cache): the importer reads it
    local = str(found.folder) + (f"#{found.split}" if found.split else "")
    return Staged(local, name + ref_split)


def _in_root(settings: StudioSettings, name: str) -> bool:
    if settings.data_root is None:
        return False
    return (Path(settings.data_root) / name).exists()


@register("source_import")
def run_source_import(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """An import that brings its data in first: ``fetch`` (``url``, ``connection_id``) is
    downloaded into ``path`` here, in the job, not in the request. After a successful import
    the downloaded file, or the imported file of an upload (``upload_id``, ``file``), is deleted;
    after a failed one it stays, beside the rejects the page shows."""
    store, settings = ctx.store, ctx.settings
    target = Path(params["path"])
    fetch = params.get("fetch")
    if fetch is not None and not target.is_file():  # a re-run after a restart has the file
        ctx.progress(0.0, "downloading")
        try:
            # checked again here: the connection or the host's address may have changed since
            source = check_url_source(
                store, settings, fetch["url"], connection_id=fetch.get("connection_id")
            )
            download(source, target, settings.max_upload_bytes, ctx.progress)
        except ApiError as err:
            fail_import(store, params["import_id"], err.message)
            raise
    result = run_import_job(ctx, params)  # raises when the import failed: nothing is cleaned
    if fetch is not None:
        shutil.rmtree(target.parent, ignore_errors=True)
    elif params.get("upload_id"):
        release_staged_file(store, settings, params["upload_id"], params["file"])
    return result
