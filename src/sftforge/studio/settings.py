"""``StudioSettings``: where the studio keeps its data and how it listens, from flags or env."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_HOME", "StudioSettings", "is_loopback"]

DEFAULT_HOME = Path("~/.sftforge/studio")


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1`` and ``localhost`` listen only to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class StudioSettings:
    """Everything the app needs to start. ``data_root`` confines server-path imports (None: server
    paths are disabled); ``token`` is required (or users) when ``host`` is not loopback."""

    home: Path = DEFAULT_HOME
    data_root: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    token: str | None = None
    allow_private_urls: bool = False
    max_upload_bytes: int = 10 * 1024**3
    max_upload_files: int = 10_000
    open_browser: bool = True
    page_size_max: int = 500  # the most rows one browse request returns
    # decoding processes per import job. 1: in the job thread. More: the job runs an input of
    # 16 MiB or more in a process of its own (``import_process``: started by exec, never a fork of the server's
    # threads), which forks convert's helpers. 1 by default: on a 2-core machine shared with
    # other work one process was the fastest (BENCHMARKS.md, studio imports)
    import_workers: int = 1
    # staged files and uploads nothing touched for this long are removed at start-up
    staging_max_age_hours: float = 168.0

    def __post_init__(self) -> None:
        self.home = Path(os.path.expanduser(str(self.home))).resolve()
        if self.data_root is not None:
            self.data_root = Path(os.path.expanduser(str(self.data_root))).resolve()

    @property
    def local_only(self) -> bool:
        return is_loopback(self.host)

    @classmethod
    def from_env(cls, **overrides: object) -> StudioSettings:
        """Defaults, then ``SFTFORGE_STUDIO_HOME`` / ``_DATA_ROOT`` / ``_TOKEN``, then ``overrides``
        (the CLI's flags; a None override keeps the env value)."""
        env = os.environ
        values: dict[str, object] = {}
        if env.get("SFTFORGE_STUDIO_HOME"):
            values["home"] = Path(env["SFTFORGE_STUDIO_HOME"])
        if env.get("SFTFORGE_STUDIO_DATA_ROOT"):
            values["data_root"] = Path(env["SFTFORGE_STUDIO_DATA_ROOT"])
        if env.get("SFTFORGE_STUDIO_TOKEN"):
            values["token"] = env["SFTFORGE_STUDIO_TOKEN"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def folder(self, name: str) -> Path:
        """``home/<name>`` (versions, uploads, staging, exports, rejects), created."""
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path
