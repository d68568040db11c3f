"""Path questions asked before writing: is this the same file as that one?

``same_file`` answers for a path that may not exist yet (same real path after symlinks) and for
two names of one file (a hard link, a bind mount: same device and inode).
"""

from __future__ import annotations

import os

__all__ = ["same_file"]


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
