"""Confining server paths to the studio's data root.

A browser user may name a file on the server ("import /data/corpus/part-1.jsonl"); the studio
reads it only when it lies inside ``StudioSettings.data_root``. ``confine`` is the one check every
server-path read goes through: it refuses ``..`` parts, absolute paths outside the root, NUL bytes,
and symlinks anywhere on the way that lead out of the root (the *resolved* path must be inside
the resolved root, so a link ``root/escape -> /etc`` cannot be followed). Paths are given relative
to the root (an absolute path is accepted only when it already lies inside it).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ApiError

__all__ = ["confine", "relative_to_root"]

_HINT = "name a path inside the data root (relative to it), without '..'"


def confine(root: str | os.PathLike[str] | None, name: str, *, must_exist: bool = True) -> Path:
    """The real path of ``name`` inside ``root``; ``ApiError`` 403 ``path_outside_root`` when it
    escapes (by ``..``, an absolute path or a symlink), 404 when it must exist and does not,
    400 when server paths are disabled (no data root)."""
    if root is None or str(root) == "":
        raise ApiError(
            400,
            "server_paths_disabled",
            "server paths are disabled: the studio has no data root.",
            field="path",
            hint="start the studio with --data-root FOLDER to import files from the server",
        )
    if "\x00" in name or not name.strip():
        raise ApiError(400, "bad_path", "the path is empty or has a NUL byte.", field="path")
    real_root = Path(os.path.realpath(root))
    given = Path(name)
    if ".." in given.parts:
        raise ApiError(
            403,
            "path_outside_root",
            "the path has '..': it may not leave the data root.",
            field="path",
            hint=_HINT,
        )
    candidate = given if given.is_absolute() else real_root / given
    real = Path(os.path.realpath(candidate))  # every symlink on the way resolved
    if real != real_root and real_root not in real.parents:
        why = (
            "a symlink leads"
            if os.path.realpath(candidate) != os.path.abspath(candidate)
            else "it lies"
        )
        raise ApiError(
            403,
            "path_outside_root",
            f"the path is outside the data root ({why} out of it).",
            field="path",
            hint=_HINT,
        )
    if must_exist and not real.exists():
        raise ApiError(404, "not_found", f"no such file in the data root: {name}.", field="path")
    return real


def relative_to_root(root: str | os.PathLike[str], path: Path) -> str:
    """``path`` as shown to the browser: relative to the data root, never the server's layout."""
    return Path(path).relative_to(os.path.realpath(root)).as_posix() or "."
