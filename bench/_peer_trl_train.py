"""Runs INSIDE TRL's own virtual environment: LoRA SFT with ``SFTTrainer`` on a messages JSONL.

argv: model folder, data JSONL (``messages``), output folder, then the settings as one JSON
object (the ones train_bench.py gives every trainer). Trains on CPU in float32 and saves the
adapter, as ``sftforge train`` does.
"""

import json
import sys

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

model_dir, data, out, raw = sys.argv[1:5]
s = json.loads(raw)
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
args = SFTConfig(
    output_dir=out,
    per_device_train_batch_size=s["batch_size"],
    gradient_accumulation_steps=s["grad_accum"],
    learning_rate=s["lr"],
    lr_scheduler_type="cosine",
    warmup_steps=0,
    num_train_epochs=s["epochs"],
    max_length=s["max_len"],
    packing=False,
    gradient_checkpointing=False,
    logging_steps=1,
    save_strategy="no",
    report_to="none",
    use_cpu=True,
    bf16=False,
    fp16=False,
    seed=s["seed"],
    dataloader_num_workers=0,
)
lora = LoraConfig(
    r=s["lora_r"],
    lora_alpha=s["lora_alpha"],
    lora_dropout=s["lora_dropout"],
    target_modules="all-linear",
    task_type="CAUSAL_LM",
)
dataset = load_dataset("json", data_files=data, split="train")
trainer = SFTTrainer(
    model=model, args=args, train_dataset=dataset, processing_class=tok, peft_config=lora
)
trainer.train()
trainer.save_model(out)
