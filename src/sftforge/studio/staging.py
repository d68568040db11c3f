"""The life of a staged file (``home/staging/``): gone once imported, expired when left behind.

Files reach ``staging/`` from uploads (``staging/<upload id>/...``), from remote sources, or are
put there by a script for the core import route (``POST /api/datasets/{id}/imports`` with
``staged``). A successful import of one deletes it (``discard_staged``; an upload's record goes
with its last file). A failed import keeps it, so the import can be fixed (``columns``,
``format``) and run again on the same file. What stays behind (a failed import never retried, an
upload never imported, a partial upload abandoned) is removed at start-up once older than
``StudioSettings.staging_max_age_hours`` (``expire_staged``), unless a queued or running job
still names it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import orjson

from .settings import StudioSettings
from .store import Store
from .uploads import drop_upload, release_staged_file

__all__ = ["discard_staged", "expire_staged"]

log = logging.getLogger("sftforge.studio.staging")


def _upload_exists(store: Store, upload_id: str) -> bool:
    try:
        return store.one("SELECT 1 AS x FROM uploads WHERE id=?", (upload_id,)) is not None
    except Exception:  # no uploads table yet: nothing was ever uploaded
        return False


def discard_staged(store: Store, settings: StudioSettings, path: str | Path) -> None:
    """Delete an imported file of ``staging/`` (a path elsewhere, e.g. in the data root, is left
    alone), and the folders it leaves empty; a file of an upload is released through the upload,
    so its record goes when its last file does."""
    root = settings.folder("staging").resolve()
    target = Path(path)
    if not target.is_absolute():
        target = root / target
    target = Path(os.path.abspath(target))  # the staged name itself, not where a link leads
    if not target.is_relative_to(root) or target == root:
        return
    parts = target.relative_to(root).parts
    if len(parts) > 1 and _upload_exists(store, parts[0]):
        release_staged_file(store, settings, parts[0], "/".join(parts[1:]))
        return
    target.unlink(missing_ok=True)
    folder = target.parent
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break
        folder = folder.parent


def _newest_change(entry: Path) -> float:
    """The newest modification time of ``entry`` and, for a folder, of anything inside it."""
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for folder, dirs, files in os.walk(entry):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
                except OSError:
                    continue
    return newest


def _in_use(store: Store) -> list[Path]:
    """The paths the queued and running jobs will read."""
    out = []
    for row in store.all("SELECT params_json FROM jobs WHERE status IN ('queued', 'running')"):
        path = orjson.loads(row["params_json"] or "{}").get("path")
        if isinstance(path, str):
            out.append(Path(os.path.abspath(path)))
    return out


def expire_staged(
    store: Store, settings: StudioSettings, max_age_s: float, now: float | None = None
) -> list[str]:
    """Remove what ``staging/`` and ``uploads/`` hold that nothing changed for ``max_age_s``
    seconds and no queued or running job names; returns the names removed."""
    cutoff = (time.time() if now is None else now) - max_age_s
    used = _in_use(store)
    removed: list[str] = []
    root = settings.folder("staging").resolve()
    for entry in sorted(root.iterdir()):
        try:
            if _newest_change(entry) >= cutoff:
                continue
        except OSError:
            continue
        if any(p == entry or p.is_relative_to(entry) for p in used):
            continue
        if entry.is_dir() and not entry.is_symlink() and _upload_exists(store, entry.name):
            drop_upload(store, settings, entry.name)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    for part in sorted(settings.folder("uploads").glob("*.part")):
        try:
            if part.lstat().st_mtime >= cutoff:
                continue
        except OSError:
            continue
        drop_upload(store, settings, part.stem)  # an upload never finished: its part and record
        removed.append(part.name)
    if removed:
        log.info("removed %d staged files or uploads left for %.0f hours", len(removed),
                 max_age_s / 3600)  # fmt: skip
    return removed
