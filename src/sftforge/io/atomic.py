"""Atomic output: write to a temporary file in the target's folder, fsync, then ``os.replace``.

A crash or an error mid-write leaves the previous file (or nothing) in place, never half a file.
``-`` writes to stdout, which cannot be atomic. An ``s3://`` or ``ftp://`` URL is written to a
local temporary file and uploaded on commit (``sftforge.io.remote.upload``: the object appears
whole or not at all).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import BinaryIO, cast

from ..errors import InputError
from .remote import check_writable, is_url, upload

__all__ = ["AtomicFile"]


class AtomicFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._tmp: str | None = None
        self._remote: str | None = None
        if path == "-":
            self.fh: BinaryIO = sys.stdout.buffer
            return
        if is_url(path):
            check_writable(path)
            self._remote = path
            fd, self._tmp = tempfile.mkstemp(prefix="sftforge-upload-", suffix=".tmp")
            self.fh = cast(BinaryIO, os.fdopen(fd, "wb", buffering=1 << 20))
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        self.fh = cast(BinaryIO, os.fdopen(fd, "wb", buffering=1 << 20))

    def commit(self) -> None:
        if self._tmp is None:
            self.fh.flush()
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        if self._remote is not None:
            try:
                upload(self._tmp, self._remote)
            finally:
                os.unlink(self._tmp)
                self._tmp = None
            return
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
