"""Hub dataset ids to local folders: ``hf://datasets/owner/name`` and ``modelscope://owner/name``.

The local cache is looked at first (Hugging Face: ``HF_HUB_CACHE``, ``HF_HOME/hub``, default
``~/.cache/huggingface/hub``, the snapshot ``refs/main`` or ``@revision`` points at; ModelScope:
``MODELSCOPE_CACHE``, default ``~/.cache/modelscope``); when the dataset is not there it is
downloaded with ``huggingface_hub`` / ``modelscope`` (the ``remote`` extra). Without network
that is one line saying where to put the files. ``sftforge.io.folders`` reads the folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

__all__ = ["hf_cache_dir", "hub_folder", "modelscope_cache_roots"]

_INSTALL = "pip install 'sftforge[remote]'"


def hub_folder(base: str) -> Path:
    """The local folder of hub id ``base`` (``hf://``, ``modelscope://`` or ``ms://``), downloaded
    when not cached; raises ``InputError`` with the fix."""
    if base.startswith("hf://"):
        return _hf_folder(base)
    return _modelscope_folder(base)


def _snapshot(folder: Path) -> Path:
    from .folders import snapshot

    return snapshot(folder)


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


def modelscope_cache_roots() -> list[Path]:
    """Where ModelScope keeps downloads: ``$MODELSCOPE_CACHE`` (default ``~/.cache/modelscope``)
    and its ``hub`` folder (older releases put repos there)."""
    env = os.environ.get("MODELSCOPE_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "modelscope"
    return [root, root / "hub"]


def _modelscope_folder(base: str) -> Path:
    scheme = "modelscope://" if base.startswith("modelscope://") else "ms://"
    repo, rev, sub = _hub_id(base, scheme)
    owner, name = repo.split("/", 1)
    for root in modelscope_cache_roots():
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
            f"dataset {repo} is not in the ModelScope cache ({modelscope_cache_roots()[0]}) "
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
                f"the folder into {modelscope_cache_roots()[0] / 'datasets' / owner}, or name "
                "the downloaded folder itself"
            ),
        ) from None
    return folder / sub if sub else folder


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """The hub libraries log each retry to stderr; the one line sftforge prints says it all."""
    import logging  # (here: only a download needs it)

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
