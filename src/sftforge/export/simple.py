"""Hand-off to ms-swift, axolotl, LitGPT and TRL: data in the format each reads, plus how to run it.

* ms-swift: ``messages`` JSONL (``tool_call``/``tool_response`` turns, via the ``swift`` format) and
  ``train_swift.sh`` running ``swift sft --model ... --dataset ... --train_type lora``.
* axolotl: OpenAI ``messages`` JSONL and ``axolotl.yaml`` with a ``type: chat_template`` dataset
  (``field_messages: messages``, trained roles ``assistant``, EOS of each turn trained).
* LitGPT: a JSON list of ``instruction``/``input``/``output`` records (single-turn only: LitGPT's
  JSON data module has no conversations) and ``finetune_lora.sh`` running ``litgpt finetune_lora``.
* TRL: ``messages`` (+ ``tools``) JSONL exactly as the ``trl`` profile encodes it, ``train_trl.py``
  (an ``SFTTrainer`` script) and ``train_trl.sh`` (the ``trl sft`` command line).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..chat.profiles.trl import to_trl_record
from ..errors import SftforgeError
from ..formats import LossLog, get_format
from ..sample import Sample
from .common import ExportResult, dump_yaml, shell_command, write_json, write_jsonl

__all__ = ["export_axolotl", "export_litgpt", "export_swift", "export_trl", "records_for"]


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


def _shell(lines: list[list[str]]) -> str:
    """A bash script: the first list is the command, each next list one continued argument line."""
    body = " \\\n    ".join(" ".join(shlex.quote(p) for p in line) for line in lines)
    return "#!/usr/bin/env bash\nset -euo pipefail\n" + body + "\n"


def _write_script(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def export_swift(
    samples: list[Sample],
    outdir: Path,
    *,
    model: str,
    template: str | None,
    max_length: int,
    loss: LossLog,
) -> ExportResult:
    records, rejected = records_for(samples, get_format("swift").dump, loss)
    data = outdir / "train.jsonl"
    write_jsonl(data, records)
    args = [
        ["swift", "sft"],
        ["--model", model],
        ["--tuner_type", "lora"],  # ms-swift 4.x name (3.x: --train_type)
        ["--dataset", str(data.resolve())],
        ["--torch_dtype", "bfloat16"],
        ["--num_train_epochs", "3"],
        ["--per_device_train_batch_size", "1"],
        ["--gradient_accumulation_steps", "16"],
        ["--learning_rate", "1e-4"],
        ["--lora_rank", "8"],
        ["--lora_alpha", "32"],
        ["--target_modules", "all-linear"],
        ["--max_length", str(max_length)],
        ["--output_dir", str((outdir / "output").resolve())],
    ]
    if template:
        args.append(["--template", template])
    script = _write_script(outdir / "train_swift.sh", _shell(args))
    return ExportResult("swift", [data, script], shell_command("bash", script), rejected=rejected)


def export_axolotl(
    samples: list[Sample],
    outdir: Path,
    *,
    model: str,
    template: str | None,
    max_length: int,
    loss: LossLog,
) -> ExportResult:
    records, rejected = records_for(samples, get_format("openai").dump, loss)
    data = outdir / "train.jsonl"
    write_jsonl(data, records)
    config = {
        "base_model": model,
        "chat_template": template or "tokenizer_default",
        "datasets": [
            {
                "path": str(data.resolve()),
                "ds_type": "json",
                "type": "chat_template",
                "field_messages": "messages",
                "message_property_mappings": {"role": "role", "content": "content"},
                "roles_to_train": ["assistant"],
                "train_on_eos": "turn",
            }
        ],
        "dataset_prepared_path": str((outdir / "last_run_prepared").resolve()),
        "val_set_size": 0.0,
        "output_dir": str((outdir / "outputs" / "lora-out").resolve()),
        "adapter": "lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_linear": True,
        "sequence_len": max_length,
        "sample_packing": True,
        "micro_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "num_epochs": 3,
        "learning_rate": 0.0002,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "bf16": "auto",
    }
    yaml_path = outdir / "axolotl.yaml"
    yaml_path.write_text(dump_yaml(config), encoding="utf-8")
    return ExportResult(
        "axolotl",
        [data, yaml_path],
        shell_command("axolotl", "train", yaml_path),
        rejected=rejected,
    )


def export_litgpt(
    samples: list[Sample],
    outdir: Path,
    *,
    model: str,
    template: str | None,
    max_length: int,
    loss: LossLog,
) -> ExportResult:
    records, rejected = records_for(samples, get_format("litgpt").dump, loss)
    data = outdir / "train.json"
    write_json(data, records)
    args = [
        ["litgpt", "finetune_lora", model],
        ["--data", "JSON"],
        ["--data.json_path", str(data.resolve())],
        ["--data.val_split_fraction", "0.05"],
        ["--train.max_seq_length", str(max_length)],
        ["--out_dir", str((outdir / "out" / "lora").resolve())],
    ]
    if template:
        args.append(["--data.prompt_style", template])
    script = _write_script(outdir / "finetune_lora.sh", _shell(args))
    return ExportResult("litgpt", [data, script], shell_command("bash", script), rejected=rejected)


_TRL_SCRIPT = '''"""Fine-tune with TRL on the data exported by sftforge (run: python {script})."""

from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

dataset = load_dataset("json", data_files={data!r}, split="train")
config = SFTConfig(
    output_dir={out!r},
    max_length={max_length!r},
    # loss on assistant tokens only: needs a chat template with {{% generation %}} marks
    # (TRL patches the templates it knows; `sftforge lint` says whether yours has them)
    assistant_only_loss=True,
    num_train_epochs=3,
    per_device_train_batch_size=1,
    gradient_accumulation_steps=8,
    learning_rate=2e-4,
)
peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
trainer = SFTTrainer(model={model!r}, args=config, train_dataset=dataset, peft_config=peft_config)
trainer.train()
'''


def export_trl(
    samples: list[Sample],
    outdir: Path,
    *,
    model: str,
    template: str | None,
    max_length: int,
    loss: LossLog,
) -> ExportResult:
    records, rejected = records_for(samples, lambda s, _loss: to_trl_record(s), loss)
    data_dir = outdir / "data"
    data = data_dir / "train.jsonl"
    data_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(data, records)
    out = str((outdir / "trl-sft").resolve())
    script = outdir / "train_trl.py"
    script.write_text(
        _TRL_SCRIPT.format(
            script=script.name,
            data=str(data.resolve()),
            out=out,
            max_length=max_length,
            model=model,
        ),
        encoding="utf-8",
    )
    cli = [
        ["trl", "sft"],
        ["--model_name_or_path", model],
        ["--dataset_name", str(data_dir.resolve())],
        ["--max_length", str(max_length)],
        ["--assistant_only_loss", "True"],
        ["--use_peft", "True"],
        ["--lora_r", "16"],
        ["--lora_alpha", "32"],
        ["--lora_target_modules", "all-linear"],
        ["--output_dir", out],
    ]
    sh = _write_script(outdir / "train_trl.sh", _shell(cli))
    return ExportResult(
        "trl", [data, script, sh], shell_command("python", script), rejected=rejected
    )
