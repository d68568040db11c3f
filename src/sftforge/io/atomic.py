"""Atomic output: write to a temporary file in the target's folder, fsync, then ``os.replace``.

A crash or an error mid-write leaves the previous file (or nothing) in place, never half a file.
``-`` writes to stdout, which cannot be atomic. The file gets the permissions a plain ``open``
would give it (0666, or 0777 for ``executable``, less the umask), not the 0600 of the temporary
file it starts as. ``write_atomic`` writes bytes in one call. The temporary file is named
``.NAME.<pid>-<random>.tmp``: the next write of the same file removes those whose process is
gone (a ``kill -9`` mid-write), and leaves those of a write still in progress.
An ``s3://`` or ``ftp://`` URL is written to a local temporary file and uploaded on
commit (``sftforge.io.remote.upload``: the object appears whole or not at all).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from typing import BinaryIO, cast

from ..errors import InputError
from .paths import is_url

__all__ = ["AtomicFile", "clear_dead_temps", "write_atomic"]


def clear_dead_temps(folder: str, name: str) -> None:
    """Remove the temporary files of writes of ``folder/name`` whose process no longer runs."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)-[^./]+\.tmp")
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m is None or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, entry))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _create_temp(folder: str, prefix: str, executable: bool) -> tuple[int, str]:
    """A new file ``folder/prefix<random>.tmp``, opened for writing, with the permissions
    ``open()`` would give it (0666 or 0777 less the umask, which the kernel applies).

    Why not ``tempfile.mkstemp``: importing tempfile (shutil, random, bz2, lzma) is a
    noticeable part of converting a small file, and mkstemp's 0600 needs a chmod afterwards."""
    mode = 0o777 if executable else 0o666
    # as mkstemp: not inherited by child processes, and no newline translation on Windows
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, flags, mode), path
        except FileExistsError:  # (one chance in 2**48; try another name)
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)


class AtomicFile:
    def __init__(self, path: str, *, executable: bool = False) -> None:
        self.path = path
        self._tmp: str | None = None
        self._remote: str | None = None
        if path == "-":
            self.fh: BinaryIO = sys.stdout.buffer
            return
        if is_url(path):
            from .remote import check_writable  # (here: a local write needs no remote module)

            check_writable(path)
            self._remote = path
            import tempfile  # (here: a local write, the common case, needs no tempfile)

            fd, self._tmp = tempfile.mkstemp(prefix="sftforge-upload-", suffix=".tmp")
            self.fh = cast(BinaryIO, os.fdopen(fd, "wb", buffering=1 << 20))
            return
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            name = os.path.basename(path)
            clear_dead_temps(folder, name)
            fd, self._tmp = _create_temp(folder, f".{name}.{os.getpid()}-", executable)
        except OSError as exc:
            raise InputError(
                f"cannot write here ({exc.strerror}).",
                file=path,
                hint="check the folder and its permissions",
            ) from None
        self.fh = cast(BinaryIO, os.fdopen(fd, "wb", buffering=1 << 20))

    def commit(self) -> None:
        if self._tmp is None:
            self.fh.flush()
            return
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            if self._remote is not None:
                from .remote import upload

                try:
                    upload(self._tmp, self._remote)
                finally:
                    os.unlink(self._tmp)
                    self._tmp = None
                return
            os.replace(self._tmp, self.path)
        except BaseException:  # a full disk at the last flush: no temp file left behind
            self.abort()
            raise
        self._tmp = None

    def abort(self) -> None:
        if self._tmp is None:
            return
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)
        self._tmp = None


def write_atomic(path: str | os.PathLike[str], data: bytes, *, executable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, with the usual permissions (see the module)."""
    out = AtomicFile(os.fspath(path), executable=executable)
    try:
        out.fh.write(data)
    except BaseException:
        out.abort()
        raise
    out.commit()
