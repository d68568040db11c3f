"""Hand-off to axolotl: OpenAI ``messages`` JSONL and ``axolotl.yaml`` with a ``type: chat_template``
dataset (``field_messages: messages``, trained roles ``assistant``, EOS of each turn trained); with an
eval split, ``test_datasets``. The YAML is run from its folder: paths are relative.
"""

from __future__ import annotations

from typing import Any

from ..formats import get_format
from .common import ExportJob, ExportResult, dump_yaml, split_records

__all__ = ["export_axolotl"]


def _axolotl_dataset(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "ds_type": "json",
        "split": "train",  # a JSON file's only split
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn",
    }


def export_axolotl(job: ExportJob) -> ExportResult:
    train, evals, rejected = split_records(job, get_format("openai").dump)
    files = [job.add_jsonl("train.jsonl", train)]
    config: dict[str, Any] = {
        "base_model": job.model,
        "chat_template": job.template or "tokenizer_default",
        "datasets": [_axolotl_dataset("train.jsonl")],
    }
    if job.eval:
        files.append(job.add_jsonl("validation.jsonl", evals))
        config["test_datasets"] = [_axolotl_dataset("validation.jsonl")]
    config |= {
        "dataset_prepared_path": "last_run_prepared",
        "val_set_size": 0.0,  # the eval set is test_datasets (axolotl takes one or the other)
        "output_dir": f"outputs/{job.name}-lora",
        "adapter": "lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_linear": True,
        "sequence_len": job.max_length,
        "sample_packing": True,
        "micro_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "num_epochs": 3,
        "learning_rate": 0.0002,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "bf16": "auto",
    }
    if job.eval:
        config["eval_steps"] = 500
    files.append(job.add_text("axolotl.yaml", dump_yaml(config)))
    return ExportResult(
        "axolotl", files, job.cd_command("axolotl train axolotl.yaml"), rejected=rejected
    )
