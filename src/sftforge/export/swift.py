"""Hand-off to ms-swift: ``messages`` JSONL (``tool_call``/``tool_response`` turns, via the
``swift`` format) and ``train_swift.sh`` running ``swift sft --model ... --dataset ... --tuner_type lora``;
with an eval split, ``--val_dataset``. The script ``cd``s to its folder: paths are relative.
"""

from __future__ import annotations

import shlex

from ..formats import get_format
from .common import ExportJob, ExportResult, shell_script, split_records

__all__ = ["export_swift"]


def export_swift(job: ExportJob) -> ExportResult:
    train, evals, rejected = split_records(job, get_format("swift").dump)
    files = [job.add_jsonl("train.jsonl", train)]
    args = [
        ["swift", "sft"],
        ["--model", job.model],
        ["--tuner_type", "lora"],  # ms-swift 4.x name (3.x: --train_type)
        ["--dataset", "train.jsonl"],
    ]
    if job.eval:
        files.append(job.add_jsonl("validation.jsonl", evals))
        args += [["--val_dataset", "validation.jsonl"], ["--split_dataset_ratio", "0"]]
    args += [
        ["--torch_dtype", "bfloat16"],
        ["--num_train_epochs", "3"],
        ["--per_device_train_batch_size", "1"],
        ["--gradient_accumulation_steps", "16"],
        ["--learning_rate", "1e-4"],
        ["--lora_rank", "8"],
        ["--lora_alpha", "32"],
        ["--target_modules", "all-linear"],
        ["--max_length", str(job.max_length)],
        ["--output_dir", f"output/{job.name}"],
    ]
    if job.template:
        args.append(["--template", job.template])
    files.append(job.add_text("train_swift.sh", shell_script(args), executable=True))
    return ExportResult("swift", files, f"bash {shlex.quote(str(files[-1]))}", rejected=rejected)
