"""Where a ``--tokenizer`` value points: a local folder, or a model id found in a model cache.

``resolve_tokenizer("Qwen/Qwen2.5-1.5B-Instruct")`` looks, in this order, for:

1. a local file or folder of that name (a path always wins over an id);
2. the Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
   ``~/.cache/huggingface/hub``; the folder ``models--Qwen--Qwen2.5-1.5B-Instruct/snapshots/<rev>/``,
   preferring the revision ``refs/main`` names, then the newest snapshot holding tokenizer files;
3. the ModelScope cache (``sftforge.io.hub.modelscope_cache_roots``: ``$MODELSCOPE_CACHE``, default
   ``~/.cache/modelscope``, and its ``hub`` folder); the folder
   ``models/Qwen/Qwen2.5-1.5B-Instruct`` (newer ModelScope) or ``Qwen/Qwen2.5-1.5B-Instruct``
   (older), each also with the dots written ``___`` as ModelScope stores them;
4. a download of only the tokenizer files with ``huggingface_hub`` into the hub cache (from
   ``$HF_ENDPOINT`` when set, e.g. a mirror), unless ``HF_HUB_OFFLINE`` (or
   ``TRANSFORMERS_OFFLINE``) is set or the hub is unreachable.

When none of that gives a folder, the error names the files to place and the folder to place
them in, which step 2 then finds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.hub import hf_cache_dir, modelscope_cache_roots
from ..progress import note

__all__ = [
    "TOKENIZER_FILES",
    "is_model_id",
    "resolve_tokenizer",
]

# what a tokenizer folder holds: tokenizer.json (fast) or tokenizer.model (SentencePiece) or
# vocab.json + merges.txt (slow BPE), with tokenizer_config.json and special_tokens_map.json
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)
# any one of these makes a folder a tokenizer folder
_CORE_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# "owner/name", as the hub and ModelScope spell a model: no leading dot or slash, one slash
_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TRUE = {"1", "true", "yes", "on"}


def is_model_id(spec: str | Path) -> bool:
    """Whether ``spec`` is to be looked up as a model id: shaped ``owner/name`` and not a path
    that exists."""
    return _MODEL_ID_RE.match(str(spec)) is not None and not Path(spec).expanduser().exists()


def _offline() -> bool:
    return any(
        os.environ.get(k, "").strip().lower() in _TRUE
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _is_tokenizer_dir(folder: Path) -> bool:
    return folder.is_dir() and any((folder / f).is_file() for f in _CORE_FILES)


def _hf_repo_dir(model_id: str) -> Path:
    return hf_cache_dir() / ("models--" + model_id.replace("/", "--"))


def _from_hf_cache(model_id: str) -> Path | None:
    repo = _hf_repo_dir(model_id)
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        pinned = snapshots / ref.read_text(encoding="utf-8").strip()
        if _is_tokenizer_dir(pinned):
            return pinned
    found = [d for d in snapshots.iterdir() if _is_tokenizer_dir(d)]
    return max(found, key=lambda d: d.stat().st_mtime) if found else None


def _from_modelscope_cache(model_id: str) -> Path | None:
    owner, name = model_id.split("/", 1)
    for root in modelscope_cache_roots():
        for base in (root / "models", root):
            for n in (name, name.replace(".", "___")):
                if _is_tokenizer_dir(base / owner / n):
                    return base / owner / n
    return None


def _download(model_id: str) -> Path | None:
    """Only the tokenizer files, into the hub cache; None when offline or unreachable."""
    if _offline():
        return None
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - installed with transformers
        return None
    endpoint = os.environ.get("HF_ENDPOINT") or None  # a mirror; read now, not at import
    note(f"tokenizer: downloading the tokenizer files of {model_id} into {hf_cache_dir()}")
    try:
        got = snapshot_download(
            model_id,
            cache_dir=str(hf_cache_dir()),
            endpoint=endpoint,
            allow_patterns=[*TOKENIZER_FILES, "added_tokens.json", "chat_template.jinja"],
            tqdm_class=_silent_tqdm(),  # progress is ours (sftforge.progress), not a second bar
        )
    except Exception:  # no network, unknown or gated id: the error below says what to do
        return None
    folder = Path(got)
    return folder if _is_tokenizer_dir(folder) else None


def _silent_tqdm() -> Any:
    from tqdm.auto import tqdm

    class Silent(tqdm):  # type: ignore[misc,type-arg,unused-ignore]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Silent


def _not_found(model_id: str) -> InputError:
    place = _hf_repo_dir(model_id) / "snapshots" / "local"
    why = "offline (HF_HUB_OFFLINE)" if _offline() else "no download possible"
    return InputError(
        f"tokenizer '{model_id}' is not a local folder, not in the Hugging Face cache"
        f" ({hf_cache_dir()}) or the ModelScope cache ({modelscope_cache_roots()[0]}), and {why}.",
        field="tokenizer",
        hint=(
            f"put tokenizer.json and tokenizer_config.json (plus special_tokens_map.json, and"
            f" tokenizer.model or vocab.json + merges.txt if the model has them) in {place}/,"
            f" or download them elsewhere (huggingface-cli download {model_id} --include"
            f" 'tokenizer*' or modelscope download --model {model_id}) and pass that folder"
        ),
    )


def resolve_tokenizer(spec: str | Path) -> Path:
    """The folder (or tokenizer file) ``spec`` names; see the module docstring for the order."""
    path = Path(spec).expanduser()
    text = str(spec)
    if not is_model_id(spec):
        if not path.exists():
            raise InputError(
                f"tokenizer folder '{spec}' does not exist.",
                field="tokenizer",
                hint="pass a local folder with tokenizer.json or tokenizer.model, or a model id"
                " such as Qwen/Qwen2.5-1.5B-Instruct",
            )
        return path
    found = _from_hf_cache(text) or _from_modelscope_cache(text) or _download(text)
    if found is None:
        raise _not_found(text)
    return found
