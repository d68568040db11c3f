"""Path questions asked before reading or writing.

``same_file`` answers for a path that may not exist yet (same real path after symlinks) and for
two names of one file (a hard link, a bind mount: same device and inode). ``link_escape`` tells
whether a path is a symlink (or a chain of them) that leads out of the folder it sits in: an
input named ``data.jsonl`` in a recipe's folder must not quietly read ``/etc/passwd``.

``is_url``, ``is_dataset_ref`` and ``masked`` tell a remote file, a folder or hub id, and how a
name is shown, without importing ``sftforge.io.remote`` or ``sftforge.io.folders``: reading or
writing a local file (the common case, e.g. ``sftforge convert`` of a small file) needs neither.
"""

from __future__ import annotations

import os

__all__ = [
    "HUB_SCHEMES",
    "REMOTE_SCHEMES",
    "is_dataset_ref",
    "is_url",
    "link_escape",
    "masked",
    "same_file",
]

REMOTE_SCHEMES = ("http", "https", "ftp", "s3")
HUB_SCHEMES = ("hf://", "modelscope://", "ms://")


def is_url(path: str) -> bool:
    """``http(s)://``, ``ftp://`` or ``s3://``: a remote file ``sftforge.io.remote`` opens."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def is_dataset_ref(path: str) -> bool:
    """A hub id (``hf://``, ``modelscope://``, ``ms://``) or a local folder (``#split`` allowed)."""
    if path.startswith(HUB_SCHEMES):
        return True
    if "://" in path or path == "-":
        return False
    base = path.rpartition("#")[0] if "#" in path and not os.path.exists(path) else path
    return os.path.isdir(os.path.expanduser(base))


def masked(path: str) -> str:
    """``path`` as messages show it: ``sftforge.io.remote.shown`` (a URL's password and secret
    query values as ``***``); a name without ``://`` is shown as it is."""
    if "://" not in path:
        return path
    from .remote import shown

    return shown(path)


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
