"""Merge a LoRA adapter into its base model: one folder any loader reads without peft.

``merge_adapter`` loads the base in full precision (an adapter trained with QLoRA too: merging
into 4-bit weights would round the update away), applies the adapter, folds ``B @ A * scale``
into the base weights (peft's ``merge_and_unload``) and writes to ``out``:

* the weights as safetensors (sharded past ``max_shard_size``) and ``config.json``;
* the tokenizer (the adapter folder's when it has one, else the base's) with its chat template;
* ``generation_config.json``: the base's when it has one, else made from the model config, and
  in both cases stopping at the tokenizer's end-of-sequence token, so chat stops at end of turn;
* ``sftforge_merge.json``: what was merged (base, adapter, dtype) for the run's record.

``out`` must be a new or empty folder, never the base or the adapter folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .load import adapter_base, is_adapter, load_model

__all__ = ["MergeResult", "merge_adapter"]


@dataclass(frozen=True)
class MergeResult:
    out: str
    base: str
    adapter: str
    dtype: str
    files: tuple[str, ...]


def _check_out(out: Path, base: Path, adapter: Path) -> None:
    for other in (base, adapter):
        if other.exists() and out.resolve() == other.resolve():
            raise InputError(
                f"--out '{out}' is the {'base' if other == base else 'adapter'} folder.",
                field="out",
                hint="write the merged model to a new folder",
            )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"--out '{out}' exists and is not an empty folder.",
            field="out",
            hint="pass a new folder, or remove this one first",
        )


def merge_adapter(
    adapter: str | Path,
    out: str | Path,
    *,
    base: str | Path | None = None,
    dtype: str = "auto",
    max_shard_size: str = "5GB",
) -> MergeResult:
    """Merge ``adapter`` into its base (``base``, else the one its config names) into ``out``."""
    adapter_dir, out_dir = Path(adapter), Path(out)
    if not is_adapter(adapter_dir):
        raise InputError(
            f"'{adapter}' is not a LoRA adapter folder (no adapter_config.json in it).",
            field="adapter",
            hint="pass the folder training saved the adapter to",
        )
    base_dir = adapter_base(adapter_dir, base)
    _check_out(out_dir, base_dir, adapter_dir)
    loaded = load_model(adapter_dir, base=base_dir, device="cpu", dtype=dtype)
    merged = loaded.model.merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True, max_shard_size=max_shard_size)
    loaded.tokenizer.save_pretrained(out_dir)
    _generation_config(merged, loaded.tokenizer, base_dir).save_pretrained(out_dir)
    result = MergeResult(
        out=str(out_dir),
        base=str(base_dir),
        adapter=str(adapter_dir),
        dtype=str(merged.dtype).removeprefix("torch."),
        files=(*tuple(sorted(p.name for p in out_dir.iterdir())), "sftforge_merge.json"),
    )
    record = {k: v for k, v in asdict(result).items() if k != "files"}
    (out_dir / "sftforge_merge.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return result


def _generation_config(model: Any, tokenizer: Any, base_dir: Path) -> Any:
    from transformers import GenerationConfig

    if (base_dir / "generation_config.json").is_file():
        config = GenerationConfig.from_pretrained(str(base_dir), local_files_only=True)
    else:
        config = GenerationConfig.from_model_config(model.config)
    eos = tokenizer.eos_token_id
    if eos is not None:
        have = config.eos_token_id
        ids = [have] if isinstance(have, int) else list(have or [])
        config.eos_token_id = [*ids, eos] if eos not in ids else have
    if config.pad_token_id is None and tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    return config
