"""System failures (disk full, permission denied, symlink loops...) as one-line errors.

``os_error`` turns an ``OSError`` into an ``SftforgeError`` that names the path and the fix, so
the CLI prints one line, never a traceback. ``path`` is used when the error carries no file name
(a write to an open file that hits a full disk only says ``[Errno 28]``); ``resume`` adds that
running the same command again continues the run.
"""

from __future__ import annotations

import errno

from .errors import SftforgeError

__all__ = ["os_error"]

_FIXES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free some space or write to another disk"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write to another disk"),
    errno.EFBIG: ("the file grew past the size limit", "write to a file system without the limit"),
    errno.EACCES: ("permission denied", "choose a place you may write to, or fix its permissions"),
    errno.EPERM: (
        "operation not permitted",
        "choose a place you may write to, or fix its permissions",
    ),
    errno.EROFS: ("the file system is read-only", "write to a writable place"),
    errno.ELOOP: (
        "the path is a symlink loop (too many levels of symbolic links)",
        "point the symlink at a real file, or remove it",
    ),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.EISDIR: ("the path is a folder, not a file", "give a file path"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.ENAMETOOLONG: ("the file name is too long", "use a shorter name"),
    errno.EIO: ("the device reported an I/O error", "check the disk, then try again"),
}


def os_error(exc: OSError, path: str | None = None, *, resume: bool = False) -> SftforgeError:
    """The one-line error for ``exc``; ``path`` when ``exc`` names none."""
    code = exc.errno if isinstance(exc.errno, int) else -1
    what, fix = _FIXES.get(code, (exc.strerror or str(exc), "check the path"))
    name = exc.filename if exc.filename is not None else path
    if exc.filename2 is not None:
        name = f"{exc.filename} -> {exc.filename2}"
    if name is not None and any(c in str(name) for c in "\n\r"):
        name = repr(str(name))  # a file name with a newline must not break the one line
    if resume:
        fix += ", then run the same command again: the run resumes from its finished chunks"
    return SftforgeError(
        f"{what} [errno {code}].",
        file=None if name is None else str(name),
        hint=fix,
    )
