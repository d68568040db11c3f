"""Path questions asked before reading or writing.

``same_file`` answers for a path that may not exist yet (same real path after symlinks) and for
two names of one file (a hard link, a bind mount: same device and inode). ``link_escape`` tells
whether a path is a symlink (or a chain of them) that leads out of the folder it sits in: an
input named ``data.jsonl`` in a recipe's folder must not quietly read ``/etc/passwd``.
"""

from __future__ import annotations

import os

__all__ = ["link_escape", "same_file"]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when writing ``b`` would write the file ``a`` (``-``, stdin/stdout, is no file)."""
    if os.fspath(a) == "-" or os.fspath(b) == "-":
        return False
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def link_escape(path: str | os.PathLike[str]) -> str | None:
    """The real path ``path`` leads to when a symlink takes it out of its own folder, else None.

    The folder is the one the path names (its parent, itself resolved: a symlinked *folder*
    given on purpose, ``data -> /mnt/disk/data``, is that folder)."""
    p = os.fspath(path)
    if p == "-" or not os.path.islink(p):
        return None
    folder = os.path.realpath(os.path.dirname(os.path.abspath(p)))
    real = os.path.realpath(p)
    if os.path.commonpath([folder, real]) == folder and real != folder:
        return None
    return real
