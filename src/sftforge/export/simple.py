"""Hand-off to ms-swift, axolotl, LitGPT and TRL: data in the format each reads, plus how to run it.

* ms-swift: ``messages`` JSONL (``tool_call``/``tool_response`` turns, via the ``swift`` format) and
  ``train_swift.sh`` running ``swift sft --model ... --dataset ... --train_type lora``.
* axolotl: OpenAI ``messages`` JSONL and ``axolotl.yaml`` with a ``type: chat_template`` dataset
  (``field_messages: messages``, trained roles ``assistant``, EOS of each turn trained).
* LitGPT: a JSON list of ``instruction``/``input``/``output`` records (single-turn only: LitGPT's
  JSON data module has no conversations) and ``finetune_lora.sh`` running ``litgpt finetune_lora``.
* TRL: ``messages`` (+ ``tools``) JSONL exactly as the ``trl`` profile encodes it, ``train_trl.py``
  (an ``SFTTrainer`` script) and ``train_trl.sh`` (the ``trl sft`` command line).

With an eval split each uses it the framework's way: ms-swift ``--val_dataset``, axolotl
``test_datasets``, LitGPT a data folder with ``train.json`` + ``val.json``, TRL a ``validation``
split with ``eval_strategy``. Paths are relative: scripts ``cd`` to their folder, the axolotl YAML
is run from it, ``train_trl.py`` builds its paths from its own location.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from ..chat.profiles.trl import to_trl_record
from ..errors import SftforgeError
from ..formats import LossLog, get_format
from ..sample import Sample
from .common import ExportJob, ExportResult, dump_yaml, shell_script

__all__ = [
    "export_axolotl",
    "export_litgpt",
    "export_swift",
    "export_trl",
    "records_for",
    "split_records",
]


def records_for(
    samples: list[Sample], dump: Callable[[Sample, LossLog], Any], loss: LossLog
) -> tuple[list[Any], list[tuple[str, str]]]:
    """Dump every sample; one that the target cannot carry goes to the rejected list with why."""
    records, rejected = [], []
    for s in samples:
        try:
            records.append(dump(s, loss))
        except SftforgeError as exc:
            rejected.append((s.id, exc.message))
    return records, rejected


def split_records(
    job: ExportJob, dump: Callable[[Sample, LossLog], Any]
) -> tuple[list[Any], list[Any], list[tuple[str, str]]]:
    """(train records, eval records, rejected of both) of a job."""
    train, rejected = records_for(job.train, dump, job.loss)
    evals, rejected_eval = records_for(job.eval, dump, job.loss)
    return train, evals, rejected + rejected_eval


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
