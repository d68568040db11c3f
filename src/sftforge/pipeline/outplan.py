"""Where a run writes, planned and checked before any work.

A run owns a fixed set of places in its run folder: one file per output, ``rejects.jsonl``,
``report.json``, ``report.html``, ``recipe.lock.yaml``, the operators' ``manifest-stepN-*.jsonl``
and the ``.work/`` folder; a recipe may add a ``cache:`` folder. ``plan_outputs`` refuses, with
one line naming the recipe key and the fix, any plan where two of them are the same place or one
lies inside another (an output named ``rejects.jsonl``, an output under ``.work/``, two splits on
one path, an output ``.``), where one of them is an input, or where an output or the cache lies
outside the run folder (through ``..``, an absolute path or a symlinked folder) unless
``allow_outside`` is given.

``recipe.lock.yaml`` lists every file a finished run wrote (``files:``). ``clear_leftovers``
removes, before the run starts, the temporary files a killed run left next to the files this run
and the previous one own; ``remove_stale`` removes, once the new outputs are in place, the files
the previous run wrote that this one does not (so a folder that held ``train`` and ``test`` and
is run again with one output does not keep the old ``test``). Only files named in the previous
lock and inside the run folder are ever removed. One run writes to a run folder at a time.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import RecipeError
from ..io.paths import same_file
from .recipe import Recipe

__all__ = [
    "LOCK_NAME",
    "REJECTS_NAME",
    "REPORT_NAMES",
    "WORK_NAME",
    "OutputPlan",
    "clear_leftovers",
    "plan_outputs",
    "previous_files",
    "remove_stale",
    "staged",
]

REJECTS_NAME = "rejects.jsonl"
REPORT_NAMES = ("report.json", "report.html")
LOCK_NAME = "recipe.lock.yaml"
WORK_NAME = ".work"
_CACHE_FIX = (
    "use 'cache: true' (your own cache folder, $SFTFORGE_CACHE) or a folder inside the run"
    " folder, or pass --allow-outside to allow it"
)
# what follows ``.NAME.`` in a temp file: AtomicFile's ``<pid>-<random>.tmp`` (``<random>.tmp``
# before), ``atomic_write_bytes``'s ``tmp<pid>``
_TEMP_TAIL = re.compile(r"[\w-]+\.tmp|tmp\d+")
_MANIFEST = re.compile(r"manifest-step\d+-[^/]*\.jsonl")


@dataclass
class OutputPlan:
    """A checked plan: the run folder, each split's output file, every file the run writes."""

    folder: Path
    outputs: dict[str, Path]
    cache: Path | None
    files: list[Path] = field(default_factory=list)  # outputs, rejects, report, lock
    inputs: list[Path] = field(default_factory=list)  # never removed as an earlier run's file


@dataclass(frozen=True)
class _Claim:
    what: str  # how the error names it: "outputs.train.path", "the rejects file"...
    rel: tuple[str, ...]  # path parts under the run folder, case-folded
    folder: bool = False


def staged(path: Path) -> Path:
    """Where a run file is written before the run commits it (renamed in place at the end)."""
    return path.with_name(f".tmp-{path.name}")


def plan_outputs(
    recipe: Recipe, out_dir: str | Path, cache: Path | None, *, allow_outside: bool = False
) -> OutputPlan:
    """Check every place the run will write (see the module); raises ``RecipeError``."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise RecipeError(
            "the run folder is a file.",
            file=str(folder),
            hint="give -o a folder (it is created if missing)",
        )
    real = Path(os.path.realpath(folder))
    claims = [
        _Claim("the rejects file", (REJECTS_NAME,)),
        *(_Claim(f"the report ({name})", (name,)) for name in REPORT_NAMES),
        _Claim("the lock file", (LOCK_NAME,)),
        _Claim("the work folder", (WORK_NAME,), folder=True),
    ]
    outputs: dict[str, Path] = {}
    for split, spec in recipe.outputs.items():
        key = f"outputs.{split}.path"
        # an s3:// or ftp:// output is written in the run folder under its file name, then uploaded
        rel = _relative(recipe, key, spec.local)
        if _MANIFEST.fullmatch(rel[-1]) and len(rel) == 1:
            raise _error(recipe, key, f"{spec.local!r} is the name of an operator's manifest file")
        path = folder.joinpath(*Path(os.path.normpath(spec.local)).parts)
        if not allow_outside:
            _inside(recipe, key, path, real, "outputs")
        claims.append(_Claim(key, rel))
        outputs[split] = path
    cache_dir = None
    if isinstance(recipe.cache, str) and cache is not None:
        inside = _under(Path(os.path.realpath(cache)), real)
        if inside is None and not allow_outside:
            raise _error(
                recipe,
                "cache",
                f"the cache folder {str(cache)!r} is outside the run folder {str(folder)!r};"
                " a recipe writes only inside its run folder",
                _CACHE_FIX,
            )
        if inside == ():
            raise _error(recipe, "cache", "the cache folder is the run folder", _CACHE_FIX)
        if inside is not None:
            claims.append(_Claim("cache", tuple(p.casefold() for p in inside), True))
        cache_dir = cache
    _check_claims(recipe, claims)
    _check_inputs(recipe, folder, real, claims, outputs)
    files = [*outputs.values(), folder / REJECTS_NAME, *(folder / n for n in REPORT_NAMES)]
    inputs = [p for spec in recipe.inputs if isinstance(p := recipe.input_path(spec), Path)]
    return OutputPlan(folder, outputs, cache_dir, [*files, folder / LOCK_NAME], inputs)


def _error(recipe: Recipe, key: str, problem: str, hint: str | None = None) -> RecipeError:
    return RecipeError(
        f"{problem}.",
        file=getattr(recipe, "file", None),
        field=key,
        hint=hint or "give the output another path, e.g. 'train.jsonl' or 'data/train.jsonl'",
    )


def _relative(recipe: Recipe, key: str, raw: str) -> tuple[str, ...]:
    norm = os.path.normpath(raw)
    parts = Path(norm).parts
    if norm in (".", "") or raw.endswith(("/", os.sep)):
        raise _error(recipe, key, f"{raw!r} is a folder, not a file")
    if Path(norm).is_absolute() or (parts and parts[0] == ".."):
        raise _error(recipe, key, f"{raw!r} is outside the run folder")
    return tuple(p.casefold() for p in parts)


def _under(path: Path, root: Path) -> tuple[str, ...] | None:
    """``path``'s parts below ``root`` (both real paths), or None when it is not inside."""
    try:
        return path.relative_to(root).parts
    except ValueError:
        return None


def _inside(recipe: Recipe, key: str, path: Path, real: Path, what: str) -> None:
    # a symlinked sub-folder of the run folder must not carry an output elsewhere
    if _under(Path(os.path.realpath(path)), real) is None:
        raise _error(
            recipe,
            key,
            f"{str(path)!r} leads outside the run folder (through a symlink)",
            f"replace the symlink with a folder, or pass --allow-outside to write {what} there",
        )


def _check_claims(recipe: Recipe, claims: list[_Claim]) -> None:
    for i, a in enumerate(claims):
        for b in claims[i + 1 :]:
            inner, outer = (a, b) if len(a.rel) >= len(b.rel) else (b, a)
            if inner.rel[: len(outer.rel)] != outer.rel:
                continue
            if len(inner.rel) > len(outer.rel) and not outer.folder:
                raise _error(
                    recipe,
                    inner.what,
                    f"{'/'.join(inner.rel)!r} lies inside {outer.what}, a file of the run",
                )
            if outer.folder and inner.what.startswith("outputs."):
                raise _error(
                    recipe, inner.what, f"{'/'.join(inner.rel)!r} lies inside {outer.what}"
                )
            if len(inner.rel) == len(outer.rel):
                keys = [
                    c.what for c in (a, b) if c.what.startswith("outputs.") or c.what == "cache"
                ]
                raise _error(
                    recipe,
                    keys[-1] if keys else a.what,
                    f"{a.what} and {b.what} are the same path {'/'.join(a.rel)!r}",
                )
            if inner.what == "cache" or outer.what == "cache":
                raise _error(recipe, "cache", f"the cache folder overlaps {inner.what}")


def _check_inputs(
    recipe: Recipe, folder: Path, real: Path, claims: list[_Claim], outputs: dict[str, Path]
) -> None:
    """No input may be a place the run writes (or inside its work folder)."""
    for i, spec in enumerate(recipe.inputs, 1):
        path = recipe.input_path(spec)
        if isinstance(path, str):  # a URL or hub id: nothing the run writes
            continue
        rel = _under(Path(os.path.realpath(path)), real)
        hit = None
        if rel is not None:
            low = tuple(p.casefold() for p in rel)
            hit = next((c for c in claims if low[: len(c.rel)] == c.rel), None)
        if hit is None:  # the same file by another name (a hard link)
            hit = next(
                (_Claim(f"outputs.{s}.path", ()) for s, p in outputs.items() if same_file(path, p)),
                None,
            )
        if hit is not None:
            raise RecipeError(
                f"input '{spec.name}' ({spec.path}) is {hit.what}: the run would overwrite"
                " or remove it.",
                file=getattr(recipe, "file", None),
                field=f"inputs[{i}].path",
                hint="copy the input out of the run folder, or write the run to another folder",
            )


# -- leftovers of earlier runs ------------------------------------------------------------------


def _temp_names(path: Path) -> list[Path]:
    """The temporary files a killed write of ``path`` may have left: the run's staged copy, the
    atomic writers' ``.NAME.*.tmp`` / ``.NAME.tmp<pid>``, and those of the staged copy."""
    found: list[Path] = []
    folder, name = path.parent, path.name
    if not folder.is_dir():
        return found
    stage = staged(path).name
    for entry in folder.iterdir():
        n = entry.name
        for prefix in (f".{name}.", f".{stage}."):
            if n.startswith(prefix) and _TEMP_TAIL.fullmatch(n[len(prefix) :]):
                found.append(entry)
                break
        else:
            if n == stage:
                found.append(entry)
    return found


def previous_files(plan: OutputPlan) -> list[Path]:
    """The files the previous run in this folder wrote, from its lock (inside the folder only)."""
    lock = plan.folder / LOCK_NAME
    try:
        doc: Any = yaml.safe_load(lock.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(doc, dict):
        return []
    names = doc.get("files")
    if not isinstance(names, list):  # a lock written before ``files:``: its outputs
        recipe = doc.get("recipe")
        outs = recipe.get("outputs") if isinstance(recipe, dict) else None
        outs = outs if isinstance(outs, dict) else {}
        names = [o.get("path") for o in outs.values() if isinstance(o, dict)]
    real = Path(os.path.realpath(plan.folder))
    files = []
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        path = plan.folder / name
        if _under(Path(os.path.realpath(path.parent)), real) is not None:
            files.append(path)
    return files


def clear_leftovers(plan: OutputPlan) -> None:
    """Remove the temporary files of a killed run (next to this run's and the last run's files)."""
    for path in {*plan.files, *previous_files(plan)}:
        for tmp in _temp_names(path):
            with contextlib.suppress(FileNotFoundError):
                if tmp.is_file() and not tmp.is_symlink():
                    tmp.unlink()


def remove_stale(plan: OutputPlan, previous: list[Path], written: list[Path]) -> list[Path]:
    """Remove the previous run's files this run did not write; returns what was removed."""
    keep = {os.path.realpath(p) for p in [*plan.files, *written, *plan.inputs]}
    removed = []
    for path in previous:
        if os.path.realpath(path) in keep or any(same_file(path, i) for i in plan.inputs):
            continue
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed
