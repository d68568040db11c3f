"""Hand-off to TRL: ``messages`` (+ ``tools``) JSONL exactly as the ``trl`` profile encodes it,
``train_trl.py`` (an ``SFTTrainer`` script that builds its paths from its own location) and
``train_trl.sh`` (the ``trl sft`` command line); with an eval split, a ``validation`` split and
``eval_strategy``.
"""

from __future__ import annotations

import json

from ..chat.profiles.trl import to_trl_record
from .common import ExportJob, ExportResult, shell_script, split_records

__all__ = ["export_trl"]


_TRL_SCRIPT = '''"""Fine-tune with TRL on the data exported by sftforge (run: python {script})."""

import os

from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))  # paths are relative to this folder
data_files = {data_files}
dataset = load_dataset("json", data_files={{k: os.path.join(HERE, v) for k, v in data_files.items()}})
config = SFTConfig(
    output_dir=os.path.join(HERE, {out!r}),
    max_length={max_length!r},
    # loss on assistant tokens only: needs a chat template with {{% generation %}} marks
    # (TRL patches the templates it knows; `sftforge lint` says whether yours has them)
    assistant_only_loss=True,
    num_train_epochs=3,
    per_device_train_batch_size=1,
    gradient_accumulation_steps=8,
    learning_rate=2e-4,{eval_args}
)
peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
trainer = SFTTrainer(
    model={model!r},
    args=config,
    train_dataset=dataset["train"],
    eval_dataset={eval_dataset},
    peft_config=peft_config,
)
trainer.train()
'''


def export_trl(job: ExportJob) -> ExportResult:
    train, evals, rejected = split_records(job, lambda s, _loss: to_trl_record(s))
    files = [job.add_jsonl("data/train.jsonl", train)]
    data_files = {"train": "data/train.jsonl"}
    if job.eval:
        files.append(job.add_jsonl("data/validation.jsonl", evals))
        data_files["validation"] = "data/validation.jsonl"
    out = f"trl-sft/{job.name}"
    script = "train_trl.py"
    text = _TRL_SCRIPT.format(
        script=script,
        data_files=json.dumps(data_files),
        out=out,
        max_length=job.max_length,
        model=job.model,
        eval_args='\n    eval_strategy="steps",\n    eval_steps=500,' if job.eval else "",
        eval_dataset='dataset["validation"]' if job.eval else "None",
    )
    files.append(job.add_text(script, text))
    cli = [
        ["trl", "sft"],
        ["--model_name_or_path", job.model],
        ["--dataset_name", "data"],  # a folder: its train.jsonl and validation.jsonl are splits
        ["--max_length", str(job.max_length)],
        ["--assistant_only_loss", "True"],
        ["--use_peft", "True"],
        ["--lora_r", "16"],
        ["--lora_alpha", "32"],
        ["--lora_target_modules", "all-linear"],
        ["--output_dir", out],
    ]
    if job.eval:
        cli += [
            ["--dataset_test_split", "validation"],
            ["--eval_strategy", "steps"],
            ["--eval_steps", "500"],
        ]
    files.append(job.add_text("train_trl.sh", shell_script(cli), executable=True))
    return ExportResult("trl", files, job.cd_command(f"python {script}"), rejected=rejected)
