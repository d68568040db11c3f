"""Hand-off to LLaMA-Factory: the data file, its ``dataset_info.json`` entry and a training YAML.

The data is ShareGPT-style JSON with role/content tags (see
:func:`sftforge.chat.profiles.llamafactory.to_lf_record`), which the ``llamafactory`` profile reads
exactly as LLaMA-Factory 0.9.5 does, so ``--profile llamafactory`` ids equal the trainer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ..chat.profiles.llamafactory import LF_DATASET_TAGS, align_lf_record, to_lf_record
from ..sample import Sample
from .common import ExportResult, dump_yaml, shell_command, write_json

__all__ = ["dataset_info_entry", "export_llamafactory", "write_llamafactory_data"]


def dataset_info_entry(file_name: str, *, with_tools: bool) -> dict[str, Any]:
    columns = {"messages": "messages"}
    if with_tools:
        columns["tools"] = "tools"
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": dict(LF_DATASET_TAGS),
    }


def write_llamafactory_data(
    samples: Iterable[Sample], outdir: Path, *, name: str
) -> tuple[Path, list[tuple[str, str]]]:
    """``<name>.json`` and ``dataset_info.json`` (merged into an existing one) in ``outdir``.

    Samples LLaMA-Factory would drop (role order, no final answer) or that carry media come back
    as (id, reason) instead of being written.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    records, rejected = [], []
    for s in samples:
        rec = to_lf_record(s)
        why = "media are not exported to LLaMA-Factory yet" if s.media else align_lf_record(rec)
        if isinstance(why, str):
            rejected.append((s.id, why))
        else:
            records.append(rec)
    data_file = outdir / f"{name}.json"
    write_json(data_file, records)
    info_path = outdir / "dataset_info.json"
    info: dict[str, Any] = orjson.loads(info_path.read_bytes()) if info_path.exists() else {}
    info[name] = dataset_info_entry(data_file.name, with_tools=any("tools" in r for r in records))
    write_json(info_path, info)
    return data_file, rejected


def export_llamafactory(
    samples: list[Sample],
    outdir: Path,
    *,
    model: str,
    template: str | None,
    name: str = "sftforge",
    cutoff_len: int = 2048,
) -> ExportResult:
    data_file, rejected = write_llamafactory_data(samples, outdir, name=name)
    config: dict[str, Any] = {
        "model_name_or_path": model,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "dataset": name,
        "dataset_dir": str(outdir.resolve()),
        "template": template or "default",
        "cutoff_len": cutoff_len,
        "overwrite_cache": True,
        "output_dir": str((outdir / "saves" / "lora-sft").resolve()),
        "logging_steps": 10,
        "save_steps": 500,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "learning_rate": 1.0e-4,
        "num_train_epochs": 3.0,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "bf16": True,
    }
    yaml_path = outdir / "train_lora_sft.yaml"
    yaml_path.write_text(dump_yaml(config), encoding="utf-8")
    command = shell_command("llamafactory-cli", "train", yaml_path)
    return ExportResult(
        framework="llamafactory",
        files=[data_file, outdir / "dataset_info.json", yaml_path],
        command=command,
        rejected=rejected,
    )
