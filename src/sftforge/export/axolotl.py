"""Hand-off to axolotl 0.19: OpenAI ``messages`` JSONL and ``axolotl.yaml`` with a
``type: chat_template`` dataset; with an eval split, ``test_datasets``. The YAML is run from its
folder (``cd`` into it): every path in it is relative, so the folder can be copied to the GPU
machine.

The config is what ``tokenize --profile axolotl`` encodes with (:func:`profile_settings`): the
dataset keys are the profile's :data:`~sftforge.chat.profiles.axolotl.AXOLOTL_DATASET` with the
``--option`` values given, the chat template is :func:`~sftforge.chat.profiles.axolotl_template
.decide_axolotl_template`'s decision (``tokenizer_default``, or the chosen template written as
``chat_template.jinja``). It starts unedited on a CPU and on a GPU: ``bf16: auto`` (axolotl turns
bf16 on where the device has it, fp16 otherwise; one step checked on CPU), LoRA without axolotl's
fused Triton kernels (they need CUDA), and the command turns telemetry off
(``AXOLOTL_DO_NOT_TRACK=1``: axolotl sends usage events by default and, offline, retries them).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..chat.profiles.axolotl import AXOLOTL_DATASET, AXOLOTL_OPTIONS, axolotl_record
from ..chat.profiles.axolotl_template import decide_axolotl_template
from ..errors import SftforgeError
from .common import ExportJob, ExportResult, ProfileSettings, dump_yaml, split_records

__all__ = ["export_axolotl", "profile_settings"]

COMMAND = "AXOLOTL_DO_NOT_TRACK=1 axolotl train axolotl.yaml"
DATA_FILES = ("train.jsonl", "validation.jsonl")
# options that are keys of each dataset entry; the others are top-level config keys
_DATASET_KEYS = ("roles_to_train", "train_on_eos", "train_on_eot", "message_field_training",
                 "drop_system_message")  # fmt: skip
_TOP_KEYS = ("train_on_inputs", "eot_tokens")
# comments written above top-level keys: why the value is what it is
_COMMENTS = {
    "chat_template": "the template decision of sftforge (tokenize --profile axolotl uses the same)",
    "shuffle_merged_datasets": "prepared rows stay in file order (sftforge export --check compares "
    "them); training order is still shuffled each epoch by axolotl's sampler",
    "dataset_prepared_path": "named after the data: axolotl's cache key leaves the data out, so a "
    "re-export with other data into this folder would otherwise train on the old tokens",
    "lora_mlp_kernel": "axolotl's fused LoRA kernels are Triton/CUDA only and it turns them on by "
    "default, which stops a CPU run: off here; on a CUDA GPU set the four lora_*_kernel to true "
    "for speed",
    "bf16": "precision chosen by axolotl at start: bf16 where the GPU supports it, otherwise fp16 "
    "(axolotl's fallback; starts on a CPU and on older GPUs too)",
}
README = (
    "axolotl sends usage telemetry by default and, on a machine without internet, keeps "
    "retrying it: the command sets `AXOLOTL_DO_NOT_TRACK=1` (keep it, or export it in the shell). "
    "`axolotl.yaml` starts as is on a CPU (slow, for a smoke test: add `max_steps: 1`) and on a "
    "GPU: `bf16: auto` picks the precision at start, and axolotl's fused LoRA kernels "
    "(`lora_*_kernel`) are off because they need Triton and CUDA - set them to true on a CUDA GPU "
    "for speed. On an offline machine also set `HF_HUB_OFFLINE=1` and give `base_model` as a local "
    "folder. axolotl tokenizes into `last_run_prepared/` on the first run (under a name taken from "
    "the data, so a re-export with other data is tokenized again); "
    "`axolotl preprocess axolotl.yaml` does only that step."
)


def _options(job: ExportJob) -> dict[str, Any]:
    unknown = set(job.options) - (AXOLOTL_OPTIONS - {"chat_template"})
    if "chat_template" in job.options:
        raise SftforgeError(
            "--option chat_template is set by the template decision.",
            field="option",
            hint="pass --template NAME or a .jinja file (without it: the tokenizer's own)",
        )
    if unknown:
        raise SftforgeError(
            f"unknown axolotl option(s): {', '.join(sorted(unknown))}",
            field="option",
            hint=f"use: {', '.join(sorted(AXOLOTL_OPTIONS - {'chat_template'}))}",
        )
    options = dict(job.options)
    for key in ("roles_to_train", "eot_tokens"):  # lists in axolotl's schema
        if isinstance(options.get(key), str):
            options[key] = [options[key]]
    return options


def _dataset(path: str, options: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": path,
        "ds_type": "json",
        "split": "train",  # a JSON file's only split
        "type": "chat_template",
    }
    entry |= {k: v for k, v in AXOLOTL_DATASET.items()}
    entry |= {k: options[k] for k in _DATASET_KEYS if k in options}
    return entry


def _template(job: ExportJob) -> Any:
    tokenizer = None
    if job.tokenizer:
        from ..chat.profiles import load_tokenizer

        tokenizer = load_tokenizer(job.tokenizer)
    return decide_axolotl_template(tokenizer, job.template)


def profile_settings(job: ExportJob) -> ProfileSettings:
    """The ``get_profile("axolotl", ...)`` arguments for what ``axolotl.yaml`` makes axolotl do:
    the same template decision (from ``job.template``), the dataset and config options written,
    ``sequence_len``."""
    options = _options(job)
    written = {k: v for k, v in AXOLOTL_DATASET.items() if k in AXOLOTL_OPTIONS}
    return ProfileSettings(job.template, written | options, job.max_length)


def _digest(job: ExportJob, names: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in names:
        if name in job.files:
            h.update(name.encode() + b"\0" + job.files[name][0])
    return h.hexdigest()[:12]


def _commented(text: str) -> str:
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if key in _COMMENTS and not line.startswith(" "):
            lines.append(f"# {_COMMENTS[key]}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def export_axolotl(job: ExportJob) -> ExportResult:
    options = _options(job)
    template = _template(job)
    train, evals, rejected = split_records(job, axolotl_record)
    files = [job.add_jsonl("train.jsonl", train)]
    config: dict[str, Any] = {"base_model": job.model, **template.config}
    config["datasets"] = [_dataset("train.jsonl", options)]
    if job.eval:
        files.append(job.add_jsonl("validation.jsonl", evals))
        config["test_datasets"] = [_dataset("validation.jsonl", options)]
    config |= {k: options[k] for k in _TOP_KEYS if k in options}
    config |= {
        "shuffle_merged_datasets": False,
        "dataset_prepared_path": f"last_run_prepared/{_digest(job, DATA_FILES)}",
        "val_set_size": 0.0,  # the eval set is test_datasets (axolotl takes one or the other)
        "output_dir": f"outputs/{job.name}-lora",
        "adapter": "lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_linear": True,
        "lora_mlp_kernel": False,
        "lora_qkv_kernel": False,
        "lora_o_kernel": False,
        "lora_embedding_kernel": False,
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
    if template.file is not None and template.source is not None:
        files.append(job.add_text(template.file, template.source))
    files.append(job.add_text("axolotl.yaml", _commented(dump_yaml(config))))
    return ExportResult(
        "axolotl",
        files,
        job.cd_command(COMMAND),
        notes=list(template.notes),
        rejected=rejected,
        readme=[README],
    )
