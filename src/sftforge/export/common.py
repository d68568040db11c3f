"""Shared pieces of every trainer hand-off: the result record and the JSON/JSONL/YAML writers."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

__all__ = ["ExportResult", "dump_yaml", "shell_command", "write_json", "write_jsonl"]


def shell_command(*parts: object) -> str:
    """A command line for a POSIX shell, every part quoted (``shlex.quote``): the line is meant
    to be pasted, and a folder named ``exp_$(touch PWNED);x`` must stay a folder name."""
    return shlex.join(str(p) for p in parts)


@dataclass
class ExportResult:
    """What an export wrote and the command that starts training on it."""

    framework: str
    files: list[Path]
    command: str  # quoted for a POSIX shell (``shell_command``)
    notes: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (sample id, reason)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    _atomic_write(path, orjson.dumps(value, option=orjson.OPT_INDENT_2))


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    _atomic_write(path, b"".join(orjson.dumps(r) + b"\n" for r in rows))


def dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
