"""A dataset's version history: roll back to an earlier version, tag versions.

Versions are immutable, so a rollback does not move the head back: it makes a new version (kind
``rollback``, parent the current head) whose rows are the chosen version's. Its id hashes the
parent and the chosen version's id (which hashes its rows), so it is content-addressed like
every version; its files are hard links to the chosen version's (a copy where links fail).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import ApiError
from .store import Store
from .versions import browse_path

__all__ = ["TAG_NAME", "delete_tag", "resolve", "rollback", "set_tag"]

TAG_NAME = re.compile(r"^[\w.\-]{1,64}$")


def _link(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def rollback(store: Store, dataset_id: str, version_id: str, user: str) -> dict[str, Any]:
    """Make the rows of ``version_id`` the dataset's head again, as a new version."""
    dataset = store.dataset(dataset_id)
    target = store.version(version_id, dataset_id)
    head = dataset["head_version"]
    if head == version_id:
        raise ApiError(409, "conflict", f"version {version_id} is already the head")
    new_id = hashlib.sha256(f"rollback\n{head}\n{version_id}".encode()).hexdigest()[:16]
    src = Path(target["path"])
    dest = src.with_name(f"{new_id}.parquet")
    _link(browse_path(src), browse_path(dest))
    _link(src, dest)
    with store.tx() as conn:
        return store.add_version(
            conn, version_id=new_id, dataset_id=dataset_id, parent_id=head, kind="rollback",
            message=f"roll back to {version_id}", user=user, rows=target["rows"], path=str(dest),
        )  # fmt: skip


def set_tag(store: Store, dataset_id: str, name: str, version_id: str) -> dict[str, Any]:
    """Tag ``version_id`` as ``name`` (a tag names one version; setting it again moves it)."""
    if not TAG_NAME.match(name):
        raise ApiError(422, "invalid", f"'{name}' is not a tag name", "name",
                       "use 1-64 letters, digits, '.', '_' or '-'")  # fmt: skip
    store.version(version_id, dataset_id)
    store.conn().execute(
        "INSERT INTO tags(dataset_id, name, version_id) VALUES(?, ?, ?) "
        "ON CONFLICT(dataset_id, name) DO UPDATE SET version_id=excluded.version_id",
        (dataset_id, name, version_id),
    )
    return {"dataset_id": dataset_id, "name": name, "version_id": version_id}


def delete_tag(store: Store, dataset_id: str, name: str) -> None:
    store.dataset(dataset_id)
    cur = store.conn().execute("DELETE FROM tags WHERE dataset_id=? AND name=?", (dataset_id, name))
    if cur.rowcount == 0:
        raise ApiError(404, "not_found", f"no tag '{name}' in dataset {dataset_id}")


def resolve(store: Store, dataset_id: str, ref: str) -> dict[str, Any]:
    """A version of the dataset named by its id, a tag, or ``head``."""
    if ref == "head":
        head = store.dataset(dataset_id)["head_version"]
        if head is None:
            raise ApiError(409, "conflict", f"dataset {dataset_id} has no version yet",
                           hint="import data first")  # fmt: skip
        return store.version(head, dataset_id)
    tag = store.one("SELECT version_id FROM tags WHERE dataset_id=? AND name=?", (dataset_id, ref))
    if tag is not None:
        return store.version(tag["version_id"], dataset_id)
    return store.version(ref, dataset_id)
