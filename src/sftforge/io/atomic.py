"""Atomic output: write to a temporary file in the target's folder, fsync, then ``os.replace``.

A crash or an error mid-write leaves the previous file (or nothing) in place, never half a file.
``-`` writes to stdout, which cannot be atomic. The file gets the permissions a plain ``open``
would give it (0666, or 0777 for ``executable``, less the umask), not the 0600 of the temporary
file it starts as. ``write_atomic`` writes bytes in one call.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import BinaryIO, cast

from ..errors import InputError

__all__ = ["AtomicFile", "write_atomic"]


class AtomicFile:
    def __init__(self, path: str, *, executable: bool = False) -> None:
        self.path = path
        self._tmp: str | None = None
        if path == "-":
            self.fh: BinaryIO = sys.stdout.buffer
            return
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
            )
        except OSError as exc:
            raise InputError(
                f"cannot write here ({exc.strerror}).",
                file=path,
                hint="check the folder and its permissions",
            ) from None
        # mkstemp makes 0600; give the permissions open() would (umask read back at once)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(self._tmp, (0o777 if executable else 0o666) & ~umask)
        self.fh = cast(BinaryIO, os.fdopen(fd, "wb", buffering=1 << 20))

    def commit(self) -> None:
        if self._tmp is None:
            self.fh.flush()
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self._tmp, self.path)
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
