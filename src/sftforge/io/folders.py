"""Datasets that are folders: Hugging Face ``save_to_disk`` output, folders of shards, hub caches.

A *dataset reference* is a local folder, ``hf://datasets/owner/name[@revision][/subfolder]`` or
``modelscope://owner/name`` (``ms://`` for short), optionally followed by ``#split``. It resolves
to an ordered list of shard files:

- a ``save_to_disk`` folder: the ``data-*.arrow`` files in ``state.json`` order (a
  ``DatasetDict`` folder names its splits in ``dataset_dict.json``: pick one with ``#split``);
- the hub cache layout (``datasets--owner--name/`` with ``refs/`` and ``snapshots/<rev>/``): the
  snapshot the ``main`` ref (or ``@revision``) points at;
- any other folder: its data files (``.parquet``, ``.arrow``, ``.jsonl``, ``.json``, ``.csv``...,
  compressed or not; not ``README.md`` nor ``dataset_info.json``) in path order. When their
  names or folders say they belong to several splits (``train-00000-of-00002.parquet``,
  ``test/0000.parquet``) one must be picked with ``#split``.

``hf://`` and ModelScope ids become local folders in ``sftforge.io.hub`` (cache first, then a
download where the network allows).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InputError
from .paths import HUB_SCHEMES, is_dataset_ref

if TYPE_CHECKING:  # (pathlib and the hub module only where a folder is read: see resolve_dataset)
    from pathlib import Path

__all__ = ["HUB_SCHEMES", "Dataset", "is_dataset_ref", "resolve_dataset", "snapshot"]

_SPLIT = re.compile(r"^(train|test|validation|valid|dev|eval)(?=$|[-_.])", re.I)
_NOT_DATA = {"dataset_info.json", "state.json", "dataset_dict.json", "dataset_infos.json"}
_DATA_EXT = (".parquet", ".arrow", ".jsonl", ".ndjson", ".json", ".csv", ".tsv")
_COMPRESSED = ("", ".gz", ".bz2", ".xz", ".zst")


@dataclass(frozen=True)
class Dataset:
    """A dataset reference resolved: the shard files in reading order and the split read."""

    name: str  # as given (credentials never appear in these references)
    folder: Path
    shards: tuple[Path, ...]
    split: str | None


def resolve_dataset(ref: str) -> Dataset:
    """The shard files of dataset reference ``ref``, in order; raises ``InputError`` with the fix."""
    base, split = _split_ref(ref)
    from pathlib import Path

    from .hub import hub_folder

    folder = hub_folder(base) if base.startswith(HUB_SCHEMES) else Path(base).expanduser()
    folder = snapshot(folder)
    if (folder / "dataset_dict.json").is_file():
        folder, split = _dict_split(folder, split, ref), None
    if (folder / "state.json").is_file():
        return Dataset(ref, folder, _state_shards(folder, ref), split)
    return Dataset(ref, folder, _data_files(folder, split, ref), split)


def _split_ref(ref: str) -> tuple[str, str | None]:
    if "#" in ref and not os.path.exists(ref):
        base, _, split = ref.rpartition("#")
        return base, split or None
    return ref, None


def _dict_split(folder: Path, split: str | None, ref: str) -> Path:
    splits = _json(folder / "dataset_dict.json", ref).get("splits") or []
    if split is None and len(splits) == 1:
        split = splits[0]
    if split not in splits:
        raise InputError(
            f"this DatasetDict holds the splits {', '.join(map(str, splits))}"
            + ("." if split is None else f", not '{split}'."),
            file=ref,
            hint=f"name one after '#', e.g. {ref.partition('#')[0]}#{splits[0] if splits else 'train'}",
        )
    return folder / str(split)


def _state_shards(folder: Path, ref: str) -> tuple[Path, ...]:
    state = _json(folder / "state.json", ref)
    if state.get("_indices_data_files"):
        raise InputError(
            "this saved dataset has an indices mapping (a select or shuffle not flattened).",
            file=ref,
            hint="save it again after dataset = dataset.flatten_indices()",
        )
    names = [str(f.get("filename")) for f in state.get("_data_files") or [] if f.get("filename")]
    outside = [n for n in names if os.path.basename(n) != n or n in (".", "..")]
    if outside:
        raise InputError(
            f"state.json names a shard outside its folder ({outside[0]}).",
            file=ref,
            hint="save_to_disk writes plain file names; re-save the dataset",
        )
    missing = [n for n in names if not (folder / n).is_file()]
    if missing or not names:
        raise InputError(
            f"state.json names shards that are not there ({', '.join(missing) or 'none listed'}).",
            file=ref,
            hint="copy the whole save_to_disk folder",
        )
    return tuple(folder / n for n in names)


def _data_files(folder: Path, split: str | None, ref: str) -> tuple[Path, ...]:
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.name not in _NOT_DATA
        and p.name.lower().endswith(tuple(e + c for e in _DATA_EXT for c in _COMPRESSED))
    )
    by_split: dict[str | None, list[Path]] = {}
    for f in files:
        by_split.setdefault(_split_of(f.relative_to(folder)), []).append(f)
    named = sorted(s for s in by_split if s is not None)
    if split is not None:
        chosen = by_split.get(split.lower(), [])
        if not chosen:
            raise InputError(
                f"no data files for split '{split}' in this folder"
                + (f" (splits: {', '.join(named)})." if named else "."),
                file=ref,
                hint="name a split the folder has, or leave out '#split'",
            )
        return tuple(chosen)
    if len(named) > 1:
        raise InputError(
            f"the data files belong to several splits ({', '.join(named)}).",
            file=ref,
            hint=f"name one after '#', e.g. {ref}#{named[0]}",
        )
    if not files:
        raise InputError(
            "no data files in this folder (.parquet, .arrow, .jsonl, .json, .csv, .tsv).",
            file=ref,
            hint="name a data file, or a save_to_disk folder",
        )
    return tuple(files)


def _split_of(rel: Path) -> str | None:
    for part in rel.parts:
        m = _SPLIT.match(part)
        if m:
            return m.group(1).lower()
    return None


def snapshot(folder: Path) -> Path:
    """A hub cache repo folder (``refs/`` + ``snapshots/``) -> the snapshot ``main`` points at."""
    snaps = folder / "snapshots"
    if not snaps.is_dir():
        return folder
    ref = folder / "refs" / "main"
    if ref.is_file():
        rev = ref.read_text(encoding="utf-8").strip()
        if (snaps / rev).is_dir():
            return snaps / rev
    found = sorted(p for p in snaps.iterdir() if p.is_dir())
    if len(found) == 1:
        return found[0]
    return folder


def _json(path: Path, ref: str) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path.name} ({exc}).", file=ref) from None
    return data if isinstance(data, dict) else {}
