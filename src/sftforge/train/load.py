"""Loading a model folder, or a LoRA adapter folder over its base, for merge, chat and eval.

A folder holding ``adapter_config.json`` is a peft adapter: its base is the folder the
``base`` argument names, else the adapter config's ``base_model_name_or_path``. Everything
is read from local folders only (``local_files_only``): this never downloads. The tokenizer is
the adapter folder's when it holds one (training may have added tokens), else the base's; the
chat template is resolved from it by ``chat.templates.resolve_template`` (its own
``chat_template``, or a catalogue name / .jinja file given as ``template``).

What it does not handle: remote code (``trust_remote_code`` stays off), and 4-bit loading (an
adapter trained with QLoRA is loaded, and merged, over the base in full precision).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chat.encode import load_tokenizer, special_tokens_of
from ..chat.templates import ChatTemplate, resolve_template
from ..errors import InputError, MissingDependency

__all__ = ["LoadedModel", "adapter_base", "base_view", "is_adapter", "load_model"]

_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class LoadedModel:
    """A causal LM ready to run: ``model`` (a peft model when ``adapter`` is set), its tokenizer
    and chat template, and where it came from."""

    model: Any
    tokenizer: Any
    template: ChatTemplate
    path: Path
    base: Path
    adapter: Path | None = None

    @property
    def special_tokens(self) -> dict[str, Any]:
        return special_tokens_of(self.tokenizer)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device


def is_adapter(path: str | Path) -> bool:
    """Whether ``path`` is a peft adapter folder (it holds ``adapter_config.json``)."""
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base(adapter: str | Path, base: str | Path | None = None) -> Path:
    """The base model folder of ``adapter``: ``base`` when given, else the one its config names."""
    if base is not None:
        return _model_dir(base, "--base")
    cfg_path = Path(adapter) / "adapter_config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read '{cfg_path}': {exc}", file=str(cfg_path)) from exc
    named = cfg.get("base_model_name_or_path") if isinstance(cfg, dict) else None
    if not named or not Path(named).is_dir():
        raise InputError(
            f"the adapter '{adapter}' names no local base model folder "
            f"(base_model_name_or_path: {named!r}).",
            file=str(cfg_path),
            field="base_model_name_or_path",
            hint="pass --base FOLDER, the model the adapter was trained on",
        )
    return _model_dir(named, "base_model_name_or_path")


def _model_dir(path: str | Path, what: str) -> Path:
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise InputError(
            f"{what} '{path}' is not a model folder (no config.json in it).",
            field=what.lstrip("-"),
            hint="pass the folder a model was saved to with save_pretrained",
        )
    return folder


def _torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in _DTYPES:
        raise InputError(
            f"unknown --dtype '{dtype}'.", field="dtype", hint=f"use one of: {', '.join(_DTYPES)}"
        )
    return "auto" if dtype == "auto" else getattr(torch, dtype)


def load_model(
    path: str | Path,
    *,
    base: str | Path | None = None,
    template: str | None = None,
    device: str | None = None,
    dtype: str = "auto",
) -> LoadedModel:
    """Load the model folder ``path``, or the adapter folder ``path`` over its base (unmerged)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as exc:
        raise MissingDependency("transformers", "train", "Loading a model") from exc
    folder = Path(path)
    adapter = folder if is_adapter(folder) else None
    base_dir = adapter_base(folder, base) if adapter else _model_dir(folder, "model")
    tok_dir = folder if _has_tokenizer(folder) else base_dir
    tokenizer = load_tokenizer(tok_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(base_dir), local_files_only=True, dtype=_torch_dtype(dtype)
    )
    if adapter is not None:
        model = _with_adapter(model, adapter, len(tokenizer))
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval()
    chosen = resolve_template(template, tokenizer)
    return LoadedModel(model, tokenizer, chosen, folder, base_dir, adapter)


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer.model"))


def _with_adapter(model: Any, adapter: Path, vocab: int) -> Any:
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise MissingDependency("peft", "train", "Loading a LoRA adapter") from exc
    if vocab > model.get_input_embeddings().weight.shape[0]:
        # the adapter was trained with tokens added to the tokenizer: grow the base to match
        model.resize_token_embeddings(vocab)
    try:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    except (ValueError, RuntimeError, KeyError) as exc:  # shapes or module names do not fit
        raise InputError(
            f"the adapter '{adapter}' does not fit its base model: {type(exc).__name__}: {exc}",
            hint="pass --base FOLDER, the model the adapter was trained on",
        ) from exc


class _AdapterOff:
    """A peft model seen with its adapter switched off on every call: the base model, sharing
    the weights already in memory instead of loading them a second time."""

    def __init__(self, peft_model: Any) -> None:
        self._peft = peft_model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._peft.disable_adapter():
            return self._peft(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self._peft.disable_adapter():
            return self._peft.generate(*args, **kwargs)

    def parameters(self) -> Any:
        return self._peft.parameters()

    @property
    def generation_config(self) -> Any:
        return self._peft.generation_config

    @property
    def config(self) -> Any:
        return self._peft.get_base_model().config


def base_view(tuned: LoadedModel, *, template: str | None = None) -> LoadedModel:
    """The base of the adapter model ``tuned`` without loading it again (its adapter off), with
    the base folder's own tokenizer and chat template. Calls on the two must not overlap."""
    if tuned.adapter is None:
        raise InputError(f"'{tuned.path}' is not an adapter: it has no base to show.")
    tokenizer = load_tokenizer(tuned.base)
    chosen = resolve_template(template, tokenizer)
    return LoadedModel(_AdapterOff(tuned.model), tokenizer, chosen, tuned.base, tuned.base)
