"""Runs INSIDE ms-swift's venv: ``Template.encode`` (train mode) on OpenAI-style messages.

argv[1] is a JSON job list: {tokenizer, template, data (JSONL of {"messages"}), out}, optionally
``template_backend`` ("jinja": the tokenizer's chat template), ``chat_template`` (set as the
tokenizer's), ``max_length`` and ``truncation_strategy`` (``left``/``right``; ms-swift's default
raises), ``agent_template`` and ``loss_scale``. The tokenizer gets the minimal ``model_info``/``model_meta`` ms-swift's ``get_template``
reads. A row ms-swift refuses is written as ``{"error": ...}``.
"""

import json
import sys

import torch
from swift.model.model_meta import ModelInfo, ModelMeta
from swift.template import get_template
from transformers import AutoTokenizer


def run(job: dict) -> None:
    tok = AutoTokenizer.from_pretrained(job["tokenizer"])
    if job.get("chat_template") is not None:
        tok.chat_template = job["chat_template"]
    tok.model_info = ModelInfo(model_type="qwen2", model_dir=job["tokenizer"], torch_dtype=torch.float32,
                               max_model_len=1 << 20, quant_method=None, quant_bits=0, task_type="causal_lm")  # fmt: skip
    tok.model_meta = ModelMeta(model_type="qwen2", model_groups=[], template=job["template"])
    template = get_template(
        tok,
        template_type=job["template"],
        max_length=job.get("max_length"),
        truncation_strategy=job.get("truncation_strategy", "raise"),
        template_backend=job.get("template_backend", "swift"),
        agent_template=job.get("agent_template"),
        loss_scale=job.get("loss_scale", "default"),
    )
    template.set_mode("train")
    with open(job["data"], encoding="utf-8") as f, open(job["out"], "w", encoding="utf-8") as out:
        for line in f:
            try:
                enc = template.encode(json.loads(line))
            except Exception as exc:  # the row ms-swift refuses, and why
                out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
                continue
            out.write(
                json.dumps({"input_ids": list(enc["input_ids"]), "labels": list(enc["labels"])})
                + "\n"
            )


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        for job in json.load(fh):
            run(job)
