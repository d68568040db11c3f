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
from ..errors import InputError
from ..sample import Sample
from .common import ExportJob, ExportResult, dump_yaml, write_json

__all__ = ["dataset_info_entry", "export_llamafactory", "lf_records", "write_llamafactory_data"]


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


def read_dataset_info(path: Path) -> dict[str, Any]:
    """The folder's ``dataset_info.json`` (empty when there is none), or an error naming it."""
    if not path.exists():
        return {}
    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(
            f"cannot read the existing dataset_info.json ({exc}).",
            file=str(path),
            hint="fix or remove it, or export into another folder",
        ) from None
    if not isinstance(info, dict):
        raise InputError(
            "the existing dataset_info.json is not a JSON object.",
            file=str(path),
            hint="fix or remove it, or export into another folder",
        )
    return info


def lf_records(samples: Iterable[Sample]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The records LLaMA-Factory reads; samples it would drop (role order, no final answer) or
    that carry media come back as (id, reason) instead."""
    records, rejected = [], []
    for s in samples:
        rec = to_lf_record(s)
        why = "media are not exported to LLaMA-Factory yet" if s.media else align_lf_record(rec)
        if isinstance(why, str):
            rejected.append((s.id, why))
        else:
            records.append(rec)
    return records, rejected


def write_llamafactory_data(
    samples: Iterable[Sample], outdir: Path, *, name: str
) -> tuple[Path, list[tuple[str, str]]]:
    """``<name>.json`` and ``dataset_info.json`` (merged into an existing one) in ``outdir``,
    written at once (no overwrite check: ``export_samples`` is the checked path)."""
    records, rejected = lf_records(samples)
    data_file = outdir / f"{name}.json"
    write_json(data_file, records)
    info_path = outdir / "dataset_info.json"
    info = read_dataset_info(info_path)
    info[name] = dataset_info_entry(data_file.name, with_tools=any("tools" in r for r in records))
    write_json(info_path, info)
    return data_file, rejected


def export_llamafactory(job: ExportJob) -> ExportResult:
    """``<name>.json`` (+ ``<name>_eval.json``), their ``dataset_info.json`` entries (merged into
    the folder's existing file) and ``train_lora_sft.yaml`` with ``dataset_dir: .``."""
    info = read_dataset_info(job.outdir / "dataset_info.json")
    splits = [(job.name, job.train)] + ([(f"{job.name}_eval", job.eval)] if job.eval else [])
    rejected: list[tuple[str, str]] = []
    files = []
    for name, samples in splits:
        records, dropped = lf_records(samples)
        rejected += dropped
        files.append(job.add_json(f"{name}.json", records))
        if name in info:
            job.conflicts.append(f"dataset_info.json entry '{name}'")
        info[name] = dataset_info_entry(
            f"{name}.json", with_tools=any("tools" in r for r in records)
        )
    files.append(job.add_json("dataset_info.json", info, merged=True))
    config: dict[str, Any] = {
        "model_name_or_path": job.model,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "dataset": job.name,
        "dataset_dir": ".",  # relative: run from the export folder (the command cds there)
        "template": job.template or "default",
        "cutoff_len": job.max_length,
        "overwrite_cache": True,
        "output_dir": f"saves/{job.name}/lora-sft",
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
    if job.eval:
        config |= {
            "eval_dataset": f"{job.name}_eval",
            "per_device_eval_batch_size": 1,
            "eval_strategy": "steps",
            "eval_steps": 500,
        }
    files.append(job.add_text("train_lora_sft.yaml", dump_yaml(config)))
    return ExportResult(
        framework="llamafactory",
        files=files,
        command=job.cd_command("llamafactory-cli train train_lora_sft.yaml"),
        rejected=rejected,
    )
