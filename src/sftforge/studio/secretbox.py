"""Secrets at rest: the saved connections' credentials are encrypted in the SQLite file.

The key is a Fernet key (``cryptography``: AES-128-CBC with an HMAC-SHA256 tag) in
``<home>/secret.key``, made on first use and readable by the studio's account only (0600; wider
permissions are narrowed, with a warning). A stolen copy of ``studio.sqlite3`` (a backup, a
synced folder) then holds no usable password; the key file is needed too, so keep it out of
such copies. Stored values carry the prefix ``fernet:``; a value without it is a plaintext one
from before, which ``encrypt_existing`` rewrites.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

from .errors import ApiError

__all__ = ["KEY_FILE", "PREFIX", "SecretBox", "box_for"]

KEY_FILE = "secret.key"
PREFIX = "fernet:"
log = logging.getLogger("sftforge.studio.secretbox")
_BOXES: dict[Path, SecretBox] = {}
_LOCK = threading.Lock()


def _read_or_make_key(path: Path) -> bytes:
    from cryptography.fernet import Fernet

    try:  # O_EXCL: two processes starting at once cannot both write a key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o): made 0600", path, mode)
            os.chmod(path, 0o600)
        key = path.read_bytes().strip()
        if not key:
            raise ApiError(500, "internal", f"the key file {path.name} is empty",
                           hint="restore it from a backup; without it saved secrets are lost") from None  # fmt: skip
        return key
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


class SecretBox:
    """Encrypts and decrypts the stored text of secrets with the home's key."""

    def __init__(self, key_path: Path) -> None:
        from cryptography.fernet import Fernet

        self.key_path = key_path
        self._fernet = Fernet(_read_or_make_key(key_path))

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The plaintext of a stored value (a value from before encryption is returned as is)."""
        if not stored.startswith(PREFIX):
            return stored
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ApiError(500, "internal", f"a saved secret does not match the key in "
                           f"{self.key_path.name}", hint="the key file was replaced: restore it, "
                           "or save the connection's secrets again") from None  # fmt: skip


def box_for(home: Path) -> SecretBox:
    """The box of the studio home ``home`` (one per home and process)."""
    key_path = Path(home) / KEY_FILE
    with _LOCK:
        box = _BOXES.get(key_path)
        if box is None:
            box = _BOXES[key_path] = SecretBox(key_path)
        return box
