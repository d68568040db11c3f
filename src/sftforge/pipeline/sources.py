"""The pipeline's only contact with files in external formats: read one input, write one output.

``read_input`` yields Samples and ``ReadError`` records (lines the reader could not parse) in file
order, so the executor can chunk them deterministically; ``write_output`` writes one split. Both go
through ``sftforge.api`` when it is available and fall back to canonical Sample JSONL otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError, RecipeError, SftforgeError
from ..io.folders import is_dataset_ref
from ..io.remote import shown as mask
from ..io.sources import open_raw
from ..sample import Sample

__all__ = ["CANONICAL", "ReadError", "read_input", "write_output"]

# the format name of canonical Sample JSONL (``Sample.to_json`` per line)
CANONICAL = ("sftforge", "canonical")


@dataclass(slots=True)
class ReadError:
    """A record of input ``input`` that could not be read; it goes to rejects with op ``read``."""

    input: str
    file: str
    line: int | None
    reason: str
    raw: str | None = None
    kind: str | None = None  # the reader's reason class (format, schema, invalid_json...)

    def to_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {"input": self.input, "file": self.file, "line": self.line}
        if self.kind is not None:
            value["kind"] = self.kind
        out: dict[str, Any] = {"op": "read", "reason": self.reason, "value": value}
        if self.raw is not None:
            out["raw"] = self.raw
        return out


def _api() -> Any:
    try:
        return importlib.import_module("sftforge.api")
    except ImportError:
        return None


def read_input(
    name: str,
    path: Path | str,
    fmt: str | None,
    on_error: str = "skip",
    shown: str | None = None,
    columns: dict[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    read_prompts: bool = False,
) -> Iterator[Sample | ReadError]:
    """Samples and read errors of one input (a local path, a URL, a folder or a hub id), in file
    order; errors name the file as ``shown`` (credentials masked). ``columns``: a column mapping
    (``{SOURCE: PART}``) instead of ``fmt``; ``path`` may be a ``dataset_info.json#entry``
    reference, as ``convert`` accepts. ``notice`` gets one line per problem in the file that is not
    a record (a JSON array's stray comma: neither read nor rejected), once the input is read;
    ``on_bytes(read, size)`` hears how far into the file reading has got (for progress).
    ``read_prompts``: a record without an answer is read as its prompt (a recipe whose
    ``respond`` step answers it); else its format rejects it by ``read``, naming the field."""
    if (
        isinstance(path, Path)
        and not path.exists()
        and not is_dataset_ref(str(path))
        and not _info_ref(path)
    ):
        raise InputError(f"input '{name}' does not exist.", file=str(path), hint="check the path")
    shown = None if shown is None else mask(shown)
    api = _api()
    if api is not None and (fmt not in CANONICAL or columns is not None):
        items = _read_api(
            api, name, path, fmt, on_error, columns, notice, shown, on_bytes, read_prompts
        )
        for item in items:
            if shown is not None and isinstance(item, ReadError):
                item.file = shown
            yield item
    else:
        if fmt is not None and fmt not in CANONICAL:
            raise RecipeError(f"input '{name}': format '{fmt}' is not available in this build.")
        for item in _read_canonical(name, path, on_error):
            if shown is not None and isinstance(item, ReadError):
                item.file = shown
            yield item


def _info_ref(path: Path) -> bool:
    head, sep, entry = str(path).rpartition("#")
    return bool(sep and entry and head.endswith(".json") and Path(head).is_file())


def _read_api(
    api: Any,
    name: str,
    path: Path | str,
    fmt: str | None,
    on_error: str,
    columns: dict[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
    shown: str | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    read_prompts: bool = False,
) -> Iterator[Sample | ReadError]:
    errors: list[ReadError] = []

    def on_reject(entry: dict[str, Any]) -> None:
        errors.append(_read_error(name, path, entry))

    # blank and placeholder answers are read, not refused: the recipe's filters judge them and
    # name the reason; a missing one only where a step answers it (``read_prompts``)
    with api.read(
        str(path),
        fmt,
        on_error=on_error,
        rejects=on_reject,
        require_answer=False,
        read_prompts=read_prompts,
        columns=columns,
    ) as reader:
        for n, sample in enumerate(reader, 1):
            if errors:
                yield from errors
                errors.clear()
            if on_bytes is not None and n % 1024 == 0:
                on_bytes(*reader.progress())
            yield sample
        if on_bytes is not None:
            on_bytes(*reader.progress())
    yield from errors
    if notice is not None:
        for problem in reader.notices:
            problem.file = shown or problem.file
            notice(f"warning: input '{name}': {problem}")


def _read_error(name: str, path: Path | str, entry: dict[str, Any]) -> ReadError:
    """The reader's reject entry (``{"file", "line", "kind", "reason", "raw"...}``) as a ReadError."""
    raw = entry.get("raw")
    return ReadError(
        input=name,
        file=str(entry.get("file") or path),
        line=entry.get("line"),
        reason=str(entry.get("reason") or entry.get("error") or "unreadable record"),
        raw=raw if isinstance(raw, str) or raw is None else str(raw),
        kind=entry.get("kind"),
    )


def _read_canonical(name: str, path: Path | str, on_error: str) -> Iterator[Sample | ReadError]:
    raw, _ = open_raw(str(path))
    with raw as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield Sample.from_json(line)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                reason = f"not a canonical Sample: {exc}"
                if on_error == "raise":
                    raise InputError(reason, file=mask(str(path)), line=lineno) from exc
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                yield ReadError(name, mask(str(path)), lineno, reason, text)


def write_output(
    samples: Iterable[Sample], path: Path, fmt: str, allow_lossy: bool = False
) -> tuple[int, dict[str, int]]:
    """Write one split; returns (count, losses by kind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    api = _api()
    if api is not None and fmt not in CANONICAL:
        try:
            res = api.write(samples, str(path), fmt, allow_lossy=allow_lossy)
        except SftforgeError:
            raise
        losses = getattr(res, "losses", None) or {}
        return int(getattr(res, "count", 0)), dict(getattr(losses, "counts", losses))
    if fmt not in CANONICAL:
        raise RecipeError(f"output format '{fmt}' is not available in this build.")
    n = 0
    with path.open("wb") as fh:
        for s in samples:
            fh.write(s.to_json() + b"\n")
            n += 1
    return n, {}
