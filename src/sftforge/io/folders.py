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

``hf://`` and ModelScope ids are looked up in the local cache first (``HF_HUB_CACHE`` /
``HF_HOME``; ``MODELSCOPE_CACHE``) and downloaded with ``huggingface_hub`` / ``modelscope``
when not there; without network that is one line saying where to put the files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError

__all__ = ["HUB_SCHEMES", "Dataset", "hf_cache_dir", "is_dataset_ref", "resolve_dataset"]

HUB_SCHEMES = ("hf://", "modelscope://", "ms://")
_SPLIT = re.compile(r"^(train|test|validation|valid|dev|eval)(?=$|[-_.])", re.I)
_NOT_DATA = {"dataset_info.json", "state.json", "dataset_dict.json", "dataset_infos.json"}
_DATA_EXT = (".parquet", ".arrow", ".jsonl", ".ndjson", ".json", ".csv", ".tsv")
_COMPRESSED = ("", ".gz", ".bz2", ".xz", ".zst")
_INSTALL = "pip install 'sftforge[remote]'"


@dataclass(frozen=True)
class Dataset:
    """A dataset reference resolved: the shard files in reading order and the split read."""

    name: str  # as given (credentials never appear in these references)
    folder: Path
    shards: tuple[Path, ...]
    split: str | None


def is_dataset_ref(path: str) -> bool:
    """A hub id (``hf://``, ``modelscope://``, ``ms://``) or a local folder (``#split`` allowed)."""
    if path.startswith(HUB_SCHEMES):
        return True
    if "://" in path or path == "-":
        return False
    base = path.rpartition("#")[0] if "#" in path and not os.path.exists(path) else path
    return os.path.isdir(os.path.expanduser(base))


def resolve_dataset(ref: str) -> Dataset:
    """The shard files of dataset reference ``ref``, in order; raises ``InputError`` with the fix."""
    base, split = _split_ref(ref)
    if base.startswith("hf://"):
        folder = _hf_folder(base)
    elif base.startswith(("modelscope://", "ms://")):
        folder = _modelscope_folder(base)
    else:
        folder = Path(base).expanduser()
    folder = _snapshot(folder)
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


def _snapshot(folder: Path) -> Path:
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


def _hub_id(base: str, scheme: str) -> tuple[str, str | None, str]:
    """``owner/name[@rev][/sub]`` after ``scheme`` -> (repo id, revision, subfolder)."""
    body = base[len(scheme) :].strip("/")
    if body.startswith("datasets/"):
        body = body[len("datasets/") :]
    parts = body.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InputError(
            "a hub dataset id needs an owner and a name.",
            file=base,
            hint=f"write it as {scheme}datasets/owner/name",
        )
    name, _, rev = parts[1].partition("@")
    return f"{parts[0]}/{name}", rev or None, "/".join(parts[2:])


def hf_cache_dir() -> Path:
    """Where ``huggingface_hub`` keeps downloaded repos (its environment variables honoured)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _hf_folder(base: str) -> Path:
    repo, rev, sub = _hub_id(base, "hf://")
    cached = hf_cache_dir() / f"datasets--{repo.replace('/', '--')}"
    snapshot = _cached_snapshot(cached, rev)
    if snapshot is None:
        snapshot = Path(_hf_download(repo, rev, base, cached))
    return snapshot / sub if sub else snapshot


def _cached_snapshot(cached: Path, rev: str | None) -> Path | None:
    snaps = cached / "snapshots"
    if not snaps.is_dir():
        return None
    ref = cached / "refs" / (rev or "main")
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else rev
    if commit and (snaps / commit).is_dir():
        return snaps / commit
    found = [p for p in snaps.iterdir() if p.is_dir()]
    return found[0] if rev is None and len(found) == 1 else None


def _hf_download(repo: str, rev: str | None, base: str, cached: Path) -> str:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise InputError(
            f"dataset {repo} is not in the Hugging Face cache ({cached}) and downloading it "
            "needs huggingface_hub.",
            file=base,
            hint=_INSTALL,
        ) from None
    try:
        with _quiet("huggingface_hub"):
            return str(snapshot_download(repo, repo_type="dataset", revision=rev))
    except Exception as exc:  # network, offline mode, missing repo: all end this input
        raise InputError(
            f"cannot download Hugging Face dataset {repo}: {_first_line(exc)}.",
            file=base,
            hint=(
                f"on a machine with network run `huggingface-cli download --repo-type dataset "
                f"{repo}` and copy {cached.name} into {cached.parent}, or set HF_ENDPOINT to a "
                "reachable mirror, or name the downloaded folder itself"
            ),
        ) from None


def _modelscope_cache_roots() -> list[Path]:
    env = os.environ.get("MODELSCOPE_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "modelscope"
    return [root, root / "hub"]


def _modelscope_folder(base: str) -> Path:
    scheme = "modelscope://" if base.startswith("modelscope://") else "ms://"
    repo, rev, sub = _hub_id(base, scheme)
    owner, name = repo.split("/", 1)
    for root in _modelscope_cache_roots():
        for cand in (
            root / "datasets" / owner / name.replace(".", "___"),
            root / "datasets" / owner / name,
            root / "datasets" / repo.replace("/", "--"),
        ):
            if cand.is_dir() and any(cand.iterdir()):
                found = _snapshot(cand)
                return found / sub if sub else found
    try:
        from modelscope.hub.snapshot_download import snapshot_download
    except ImportError:
        raise InputError(
            f"dataset {repo} is not in the ModelScope cache ({_modelscope_cache_roots()[0]}) "
            "and downloading it needs the modelscope package.",
            file=base,
            hint=_INSTALL,
        ) from None
    try:
        with _quiet("modelscope", "modelscope_hub"):
            folder = Path(snapshot_download(repo_id=repo, repo_type="dataset", revision=rev))
    except Exception as exc:  # network, missing repo: all end this input
        raise InputError(
            f"cannot download ModelScope dataset {repo}: {_first_line(exc)}.",
            file=base,
            hint=(
                f"on a machine with network run `modelscope download --dataset {repo}` and copy "
                f"the folder into {_modelscope_cache_roots()[0] / 'datasets' / owner}, or name "
                "the downloaded folder itself"
            ),
        ) from None
    return folder / sub if sub else folder


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """The hub libraries log each retry to stderr; the one line sftforge prints says it all."""
    saved = [(lg, lg.level) for lg in map(logging.getLogger, loggers)]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR + 1)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    from .remote import scrub

    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return scrub(f"{type(exc).__name__}: {line}")[:200]
