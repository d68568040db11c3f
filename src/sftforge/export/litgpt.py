"""Hand-off to LitGPT: a JSON list of ``instruction``/``input``/``output`` records and
``finetune_lora.sh`` running ``litgpt finetune_lora``; with an eval split, a data folder holding
``train.json`` + ``val.json``. The script ``cd``s to its folder: paths are relative.
"""

from __future__ import annotations

import shlex

from ..formats import get_format
from .common import ExportJob, ExportResult, shell_script, split_records

__all__ = ["export_litgpt"]


def export_litgpt(job: ExportJob) -> ExportResult:
    train, evals, rejected = split_records(job, get_format("litgpt").dump)
    files = [job.add_json("train.json", train)]
    args = [["litgpt", "finetune_lora", job.model], ["--data", "JSON"]]
    if job.eval:
        # a folder holding train.json and val.json: LitGPT's JSON module then splits nothing
        files.append(job.add_json("val.json", evals))
        args.append(["--data.json_path", "."])
    else:
        args += [["--data.json_path", "train.json"], ["--data.val_split_fraction", "0.05"]]
    args += [["--train.max_seq_length", str(job.max_length)], ["--out_dir", f"out/{job.name}-lora"]]
    if job.template:
        args.append(["--data.prompt_style", job.template])
    files.append(job.add_text("finetune_lora.sh", shell_script(args), executable=True))
    return ExportResult("litgpt", files, f"bash {shlex.quote(str(files[-1]))}", rejected=rejected)
