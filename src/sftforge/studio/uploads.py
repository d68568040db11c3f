"""Resumable uploads: files and whole folders from the browser into ``staging/``, safely.

The protocol is tus-like and small: ``create`` (name, size, the relative path inside a dropped
folder, a batch id grouping one folder's files) gives an upload id; chunks are written at an
offset (``write_chunk``; the offset must be where the upload stands, so a chunk is never applied
twice); ``offset`` tells a client that lost its connection where to resume (the bytes of an
interrupted chunk that did arrive are kept); ``finish`` moves the complete file into
``staging/<upload id>/`` and, for ``.zip``, ``.tar``, ``.tar.gz`` / ``.tgz``, extracts it there.

Limits (``StudioSettings``): ``max_upload_bytes`` for one file and for an archive's extracted
total (the bytes actually written are counted, not the sizes the archive claims: zip bombs stop
at the limit); ``max_upload_files`` for the files of one batch and the members of one archive.
Both answer 413 in the one error shape. Names are sanitised (no ``..``, no absolute paths, no
control characters); archive members that are absolute, climb out with ``..`` (zip-slip), or are
symlinks, hard links or devices refuse the whole archive, and nothing of it stays staged.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .errors import ApiError
from .settings import StudioSettings
from .store import Store, new_id, now_iso

__all__ = [
    "ARCHIVE_SUFFIXES",
    "Upload",
    "create_upload",
    "drop_upload",
    "extract_archive",
    "finish_upload",
    "get_upload",
    "is_archive",
    "release_staged_file",
    "safe_relpath",
    "write_chunk",
]

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads(
    id TEXT PRIMARY KEY, batch TEXT, name TEXT NOT NULL, rel_path TEXT NOT NULL,
    size INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,
    staged_json TEXT, created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_batch ON uploads(batch);
"""
_BAD_CHARS = set('<>:"|?*\\')
_MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class Upload:
    """One upload as the browser sees it (never a server path)."""

    id: str
    batch: str | None
    name: str
    rel_path: str
    size: int
    offset: int
    status: str  # "open" / "staged"
    staged: tuple[str, ...]  # files under staging/<id>/, relative, once finished

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "batch": self.batch,
            "name": self.name,
            "rel_path": self.rel_path,
            "size": self.size,
            "offset": self.offset,
            "status": self.status,
            "staged": list(self.staged),
        }


def _schema(store: Store) -> None:
    store.ensure_schema("uploads", _SCHEMA)


def safe_relpath(name: str, *, field: str = "name") -> str:
    """``name`` as a relative POSIX path safe to create under a folder: NFC, ``\\`` read as
    ``/``, empty and ``.`` parts dropped, no ``..``, no control or reserved characters, each part
    at most 255 bytes. Raises ``ApiError`` 400 ``bad_name``."""
    text = unicodedata.normalize("NFC", name).replace("\\", "/")
    if "\x00" in text:
        raise ApiError(400, "bad_name", "the name has a NUL byte.", field=field)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise ApiError(400, "bad_name", "the name is empty.", field=field)
    if ".." in parts:
        raise ApiError(
            400,
            "bad_name",
            f"the name {name!r} has '..'.",
            field=field,
            hint="name files by their path inside the uploaded folder",
        )
    clean: list[str] = []
    for part in parts:
        part = "".join(
            "_" if (c in _BAD_CHARS or unicodedata.category(c)[0] == "C") else c for c in part
        )
        part = part.strip().rstrip(".")
        if not part:
            raise ApiError(400, "bad_name", f"the name {name!r} has an empty part.", field=field)
        while len(part.encode("utf-8")) > _MAX_NAME_BYTES:
            part = part[:-1]
        clean.append(part)
    return "/".join(clean)


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _row(store: Store, upload_id: str, user: str | None) -> dict[str, Any]:
    _schema(store)
    row = store.one("SELECT * FROM uploads WHERE id=?", (upload_id,))
    if row is None or (user is not None and row["created_by"] != user):
        raise ApiError(404, "not_found", f"no upload {upload_id}.", field="upload_id")
    return row


def _upload(row: dict[str, Any]) -> Upload:
    import json

    staged = tuple(json.loads(row["staged_json"])) if row["staged_json"] else ()
    return Upload(
        row["id"],
        row["batch"],
        row["name"],
        row["rel_path"],
        int(row["size"]),
        int(row["received"]),
        row["status"],
        staged,
    )


def _part(settings: StudioSettings, upload_id: str) -> Path:
    return settings.folder("uploads") / f"{upload_id}.part"


def staged_folder(settings: StudioSettings, upload_id: str) -> Path:
    """Where a finished upload's files are: ``staging/<upload id>/``."""
    return settings.folder("staging") / upload_id


def create_upload(
    store: Store,
    settings: StudioSettings,
    user: str,
    *,
    name: str,
    size: int,
    rel_path: str | None = None,
    batch: str | None = None,
) -> Upload:
    """A new upload of ``size`` bytes; 413 when it is larger than the limit or its batch already
    has ``max_upload_files`` files."""
    _schema(store)
    if size < 0:
        raise ApiError(400, "invalid", "size must be 0 or more.", field="size")
    if size > settings.max_upload_bytes:
        raise ApiError(
            413,
            "too_large",
            f"the file is {size} bytes; the limit is {settings.max_upload_bytes} bytes.",
            field="size",
            hint="split the file, or start the studio with a larger --max-upload-bytes",
        )
    clean_name = safe_relpath(name).rpartition("/")[2]
    clean_rel = safe_relpath(rel_path, field="rel_path") if rel_path else clean_name
    if batch is not None:
        batch = safe_relpath(batch, field="batch").replace("/", "_")
        count = store.one(
            "SELECT COUNT(*) AS n FROM uploads WHERE batch=? AND created_by=?", (batch, user)
        )
    else:
        count = store.one(
            "SELECT COUNT(*) AS n FROM uploads WHERE status='open' AND created_by=?", (user,)
        )
    if count is not None and count["n"] >= settings.max_upload_files:
        raise ApiError(
            413,
            "too_many_files",
            f"at most {settings.max_upload_files} files per upload; this one would be file "
            f"{count['n'] + 1}.",
            field="batch" if batch else None,
            hint="upload fewer files at once, or pack them in an archive",
        )
    upload_id = new_id("u")
    _part(settings, upload_id).touch()
    with store.tx() as conn:
        conn.execute(
            "INSERT INTO uploads(id, batch, name, rel_path, size, received, status, "
            "created_by, created_at) VALUES(?,?,?,?,?,0,'open',?,?)",
            (upload_id, batch, clean_name, clean_rel, size, user, now_iso()),
        )
    return get_upload(store, upload_id, user)


def get_upload(store: Store, upload_id: str, user: str | None) -> Upload:
    """The upload ``upload_id`` of ``user`` (None: anyone's, for an admin)."""
    return _upload(_row(store, upload_id, user))


async def write_chunk(
    store: Store,
    settings: StudioSettings,
    upload_id: str,
    user: str | None,
    offset: int,
    chunks: AsyncIterator[bytes],
) -> Upload:
    """Append the streamed ``chunks`` at ``offset`` (which must be where the upload stands: 409
    ``offset_mismatch`` otherwise, with the right offset in the hint). Bytes that arrive before
    the connection breaks are kept, so the client resumes from ``offset`` after them; bytes past
    the declared size are refused with 413."""
    _row(store, upload_id, user)  # someone else's upload is a 404 before anything else
    if upload_id in _WRITING:
        raise ApiError(
            409,
            "busy",
            f"another chunk of upload {upload_id} is being written.",
            hint="send one chunk at a time; ask for the offset when it ends",
        )
    _WRITING.add(upload_id)  # one chunk at a time: two at one offset would interleave
    try:
        await _write(store, settings, upload_id, user, offset, chunks)
    finally:
        _WRITING.discard(upload_id)
    return get_upload(store, upload_id, user)


_WRITING: set[str] = set()  # uploads a chunk is being written to (this process serves them all)


async def _write(
    store: Store,
    settings: StudioSettings,
    upload_id: str,
    user: str | None,
    offset: int,
    chunks: AsyncIterator[bytes],
) -> None:
    row = _row(store, upload_id, user)
    if row["status"] != "open":
        raise ApiError(409, "conflict", f"upload {upload_id} is already finished.")
    part = _part(settings, upload_id)
    have = part.stat().st_size if part.exists() else 0
    if offset != have:
        raise ApiError(
            409,
            "offset_mismatch",
            f"the chunk starts at byte {offset} but the upload has {have} bytes.",
            field="offset",
            hint=f"resume at offset {have} (GET /api/uploads/{upload_id})",
        )
    size = int(row["size"])
    written = have
    try:
        with open(part, "r+b") as fh:
            fh.seek(have)
            async for data in chunks:
                if written + len(data) > size:
                    fh.write(data[: size - written])
                    written = size
                    raise ApiError(
                        413,
                        "too_large",
                        f"the upload declared {size} bytes and more arrived.",
                        hint="create the upload with the file's real size",
                    )
                fh.write(data)
                written += len(data)
    finally:  # an interrupted chunk: what arrived counts, the client resumes after it
        store.conn().execute("UPDATE uploads SET received=? WHERE id=?", (written, upload_id))


def finish_upload(
    store: Store,
    settings: StudioSettings,
    upload_id: str,
    user: str | None,
    *,
    extract: bool = True,
) -> Upload:
    """Move the complete upload into ``staging/<id>/<rel_path>``; an archive is extracted there
    (``extract``) instead. 409 ``incomplete`` when bytes are missing."""
    import json

    row = _row(store, upload_id, user)
    if row["status"] == "staged":
        return _upload(row)
    if upload_id in _WRITING:
        raise ApiError(409, "busy", f"a chunk of upload {upload_id} is still being written.")
    part = _part(settings, upload_id)
    have = part.stat().st_size if part.exists() else 0
    if have != int(row["size"]):
        raise ApiError(
            409,
            "incomplete",
            f"the upload has {have} of {row['size']} bytes.",
            hint=f"send the rest from offset {have}, then finish",
        )
    folder = staged_folder(settings, upload_id)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        if extract and is_archive(row["name"]):
            staged = extract_archive(
                part,
                folder,
                max_bytes=settings.max_upload_bytes,
                max_files=settings.max_upload_files,
            )
            part.unlink()
        else:
            target = folder / row["rel_path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
            staged = [row["rel_path"]]
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing of a refused archive stays staged
        raise
    store.conn().execute(
        "UPDATE uploads SET status='staged', staged_json=? WHERE id=?",
        (json.dumps(staged, ensure_ascii=False), upload_id),
    )
    return get_upload(store, upload_id, user)


def staged_file(settings: StudioSettings, upload: Upload, rel: str | None = None) -> Path:
    """The server path of one staged file of ``upload`` (the only one when ``rel`` is None)."""
    if upload.status != "staged":
        raise ApiError(409, "incomplete", f"upload {upload.id} is not finished.")
    if rel is None:
        if len(upload.staged) != 1:
            raise ApiError(
                400,
                "invalid",
                f"upload {upload.id} has {len(upload.staged)} files: name one.",
                field="file",
            )
        rel = upload.staged[0]
    if rel not in upload.staged:
        raise ApiError(404, "not_found", f"upload {upload.id} has no file {rel!r}.", field="file")
    return staged_folder(settings, upload.id) / rel


def drop_upload(store: Store, settings: StudioSettings, upload_id: str) -> None:
    """Delete an upload: its staged files, its partial file and its record."""
    _schema(store)
    shutil.rmtree(staged_folder(settings, upload_id), ignore_errors=True)
    _part(settings, upload_id).unlink(missing_ok=True)
    store.conn().execute("DELETE FROM uploads WHERE id=?", (upload_id,))


def release_staged_file(store: Store, settings: StudioSettings, upload_id: str, rel: str) -> None:
    """One staged file of an upload is imported: delete it, and the whole upload once none of
    its files is left (a folder upload keeps the files not imported yet)."""
    import json

    _schema(store)
    row = store.one("SELECT * FROM uploads WHERE id=?", (upload_id,))
    if row is None:
        return
    left = [f for f in _upload(row).staged if f != rel]
    if not left:
        drop_upload(store, settings, upload_id)
        return
    (staged_folder(settings, upload_id) / rel).unlink(missing_ok=True)
    store.conn().execute(
        "UPDATE uploads SET staged_json=? WHERE id=?", (json.dumps(left), upload_id)
    )


# -- archives ------------------------------------------------------------------------------


def _member_path(name: str) -> str:
    """An archive member's name as a safe relative path, or ``ApiError`` (zip-slip, absolute)."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\x00" in text:
        raise ApiError(
            400,
            "unsafe_archive",
            f"the archive has a member with an absolute name: {name!r}; nothing was extracted.",
            hint="pack the files with relative names",
        )
    if ".." in PurePosixPath(text).parts:
        raise ApiError(
            400,
            "unsafe_archive",
            f"the archive has a member that climbs out with '..': {name!r}; nothing was extracted.",
            hint="pack the files with relative names inside one folder",
        )
    return safe_relpath(text, field="archive")


class _Budget:
    """Counts members and the bytes actually written; 413 past either limit."""

    def __init__(self, max_bytes: int, max_files: int) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.bytes = 0
        self.files = 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise ApiError(
                413,
                "too_many_files",
                f"the archive has more than {self.max_files} files; nothing was extracted.",
                hint="split the archive",
            )

    def copy(self, src: IO[bytes], dst: IO[bytes]) -> None:
        while True:
            block = src.read(1 << 20)
            if not block:
                return
            self.bytes += len(block)
            if self.bytes > self.max_bytes:
                raise ApiError(
                    413,
                    "too_large",
                    f"the archive unpacks to more than {self.max_bytes} bytes; nothing was "
                    "extracted.",
                    hint="upload the files themselves, or a smaller archive",
                )
            dst.write(block)


def _zip_members(archive: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, str]]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ApiError(
                400,
                "unsafe_archive",
                f"the archive has a symlink member: {info.filename!r}; nothing was extracted.",
                hint="pack the files themselves, not links to them",
            )
        if info.is_dir():
            _member_path(info.filename)
            continue
        yield info, _member_path(info.filename)


def _tar_members(archive: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, str]]:
    for info in archive:
        if info.issym() or info.islnk():
            raise ApiError(
                400,
                "unsafe_archive",
                f"the archive has a link member: {info.name!r}; nothing was extracted.",
                hint="pack the files themselves, not links to them",
            )
        if info.isdir():
            _member_path(info.name)
            continue
        if not info.isfile():
            raise ApiError(
                400,
                "unsafe_archive",
                f"the archive has a device or pipe member: {info.name!r}; nothing was extracted.",
            )
        yield info, _member_path(info.name)


def extract_archive(archive: Path, dest: Path, *, max_bytes: int, max_files: int) -> list[str]:
    """Extract ``archive`` (zip or tar, gzip or not) into ``dest`` and return the files written,
    relative and sorted. Refuses (``ApiError``; the caller removes ``dest``) absolute or ``..``
    members, links and devices, more than ``max_files`` files or ``max_bytes`` bytes written."""
    budget = _Budget(max_bytes, max_files)
    real_dest = Path(os.path.realpath(dest))
    written: list[str] = []

    def place(rel: str) -> Path:
        target = real_dest / rel
        if rel in written or target.exists():
            raise ApiError(
                400, "unsafe_archive", f"the archive has {rel!r} twice; nothing was extracted."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if (
            real_dest not in Path(os.path.realpath(target.parent)).parents
            and Path(os.path.realpath(target.parent)) != real_dest
        ):  # belt and braces: no member may land outside dest
            raise ApiError(400, "unsafe_archive", f"the member {rel!r} leaves the folder.")
        written.append(rel)
        return target

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for zinfo, rel in _zip_members(zf):
                    budget.add_file()
                    with zf.open(zinfo) as src, open(place(rel), "xb") as dst:
                        budget.copy(src, dst)
        else:
            with tarfile.open(archive, "r:*") as tf:
                for tinfo, rel in _tar_members(tf):
                    budget.add_file()
                    src_tar = tf.extractfile(tinfo)
                    if src_tar is None:
                        continue
                    with src_tar, open(place(rel), "xb") as dst:
                        budget.copy(src_tar, dst)
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        # RuntimeError: zipfile's 'File is encrypted, password required'
        raise ApiError(
            400,
            "bad_archive",
            f"the archive cannot be read: {exc}.",
            hint="re-create the archive (zip, tar or tar.gz)",
        ) from None
    if not written:
        raise ApiError(400, "bad_archive", "the archive has no files.", hint="pack data files")
    return sorted(written)
