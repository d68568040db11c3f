"""Hand-off to XTuner: OpenAI ``messages`` JSONL and a QLoRA config file read by ``openai_map_fn``.

XTuner's ``openai_map_fn`` takes system/user/assistant turns only (an assistant turn may carry
``loss: false``); samples with tools, tool calls or tool turns are rejected with the reason.
Reasoning goes inline as ``<think>...</think>`` (XTuner has no field for it). The config is plain
Python written from ``repr`` of each value, so paths and prompts with quotes or CJK stay valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..sample import Sample
from .common import ExportResult, shell_command, write_jsonl

__all__ = ["export_xtuner", "to_xtuner_record"]


def to_xtuner_record(sample: Sample) -> dict[str, Any] | str:
    """The record ``openai_map_fn`` reads, or why XTuner cannot take the sample."""
    if sample.tools:
        return "XTuner's openai_map_fn has no tool list"
    messages = []
    for m in sample.messages:
        if m.role == "tool" or m.tool_calls:
            return "XTuner's openai_map_fn has no tool turns"
        content = m.content
        if m.reasoning is not None and m.role == "assistant":
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        msg: dict[str, Any] = {"role": m.role, "content": content}
        if m.role == "assistant" and m.train is False:
            msg["loss"] = False
        messages.append(msg)
    return {"messages": messages}


_CONFIG = """# XTuner QLoRA config written by `sftforge export --for xtuner`. Run: xtuner train {config_name}
import torch
from datasets import load_dataset
from mmengine.dataset import DefaultSampler
from mmengine.hooks import (CheckpointHook, DistSamplerSeedHook, IterTimerHook,
                            LoggerHook, ParamSchedulerHook)
from mmengine.optim import AmpOptimWrapper, CosineAnnealingLR, LinearLR
from peft import LoraConfig
from torch.optim import AdamW
from transformers import (AutoModelForCausalLM, AutoTokenizer,
                          BitsAndBytesConfig)

from xtuner.dataset import process_hf_dataset
from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.dataset.map_fns import openai_map_fn, template_map_fn_factory
from xtuner.engine.hooks import DatasetInfoHook, EvaluateChatHook
from xtuner.engine.runner import TrainLoop
from xtuner.model import SupervisedFinetune
from xtuner.utils import PROMPT_TEMPLATE

pretrained_model_name_or_path = {model!r}
data_path = {data!r}
prompt_template = PROMPT_TEMPLATE.{template}
max_length = {max_length!r}
pack_to_max_length = True

batch_size = 1
accumulative_counts = 16
dataloader_num_workers = 0
max_epochs = 3
optim_type = AdamW
lr = 2e-4
betas = (0.9, 0.999)
weight_decay = 0
max_norm = 1
warmup_ratio = 0.03
save_steps = 500
save_total_limit = 2

evaluation_freq = 500
SYSTEM = {system!r}
evaluation_inputs = {evaluation_inputs!r}

tokenizer = dict(
    type=AutoTokenizer.from_pretrained,
    pretrained_model_name_or_path=pretrained_model_name_or_path,
    trust_remote_code=True,
    padding_side='right')

model = dict(
    type=SupervisedFinetune,
    llm=dict(
        type=AutoModelForCausalLM.from_pretrained,
        pretrained_model_name_or_path=pretrained_model_name_or_path,
        trust_remote_code=True,
        torch_dtype=torch.float16,
        quantization_config=dict(
            type=BitsAndBytesConfig,
            load_in_4bit=True,
            load_in_8bit=False,
            llm_int8_threshold=6.0,
            llm_int8_has_fp16_weight=False,
            bnb_4bit_compute_dtype=torch.float16,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_type='nf4')),
    lora=dict(
        type=LoraConfig,
        r=64,
        lora_alpha=16,
        lora_dropout=0.1,
        bias='none',
        task_type='CAUSAL_LM'))

train_dataset = dict(
    type=process_hf_dataset,
    dataset=dict(type=load_dataset, path='json', data_files=dict(train=data_path)),
    tokenizer=tokenizer,
    max_length=max_length,
    dataset_map_fn=openai_map_fn,
    template_map_fn=dict(type=template_map_fn_factory, template=prompt_template),
    remove_unused_columns=True,
    shuffle_before_pack=True,
    pack_to_max_length=pack_to_max_length)

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=dataloader_num_workers,
    dataset=train_dataset,
    sampler=dict(type=DefaultSampler, shuffle=True),
    collate_fn=dict(type=default_collate_fn))

optim_wrapper = dict(
    type=AmpOptimWrapper,
    optimizer=dict(type=optim_type, lr=lr, betas=betas, weight_decay=weight_decay),
    clip_grad=dict(max_norm=max_norm, error_if_nonfinite=False),
    accumulative_counts=accumulative_counts,
    loss_scale='dynamic',
    dtype='float16')

param_scheduler = [
    dict(type=LinearLR, start_factor=1e-5, by_epoch=True, begin=0,
         end=warmup_ratio * max_epochs, convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, eta_min=0.0, by_epoch=True,
         begin=warmup_ratio * max_epochs, end=max_epochs, convert_to_iter_based=True)
]

train_cfg = dict(type=TrainLoop, max_epochs=max_epochs)

custom_hooks = [
    dict(type=DatasetInfoHook, tokenizer=tokenizer),
    dict(type=EvaluateChatHook, tokenizer=tokenizer, every_n_iters=evaluation_freq,
         evaluation_inputs=evaluation_inputs, system=SYSTEM, prompt_template=prompt_template)
]

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, log_metric_by_epoch=False, interval=10),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, by_epoch=False, interval=save_steps,
                    max_keep_ckpts=save_total_limit),
    sampler_seed=dict(type=DistSamplerSeedHook))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

visualizer = None
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
log_processor = dict(by_epoch=False)
"""


def _evaluation_inputs(samples: list[Sample], n: int = 2) -> list[str]:
    """The last user prompt of the first ``n`` samples: what EvaluateChatHook asks during training."""
    out: list[str] = []
    for s in samples:
        users = [m.content for m in s.messages if m.role == "user" and m.content.strip()]
        if users and users[-1] not in out:
            out.append(users[-1])
        if len(out) == n:
            break
    return out


def export_xtuner(
    samples: list[Sample], outdir: Path, *, model: str, template: str | None, max_length: int
) -> ExportResult:
    records, kept, rejected = [], [], []
    for s in samples:
        rec = to_xtuner_record(s)
        if isinstance(rec, str):
            rejected.append((s.id, rec))
        else:
            records.append(rec)
            kept.append(s)
    data = outdir / "train.jsonl"
    write_jsonl(data, records)
    name = template or "default"
    if not name.isidentifier():
        from ..errors import TemplateError

        raise TemplateError(f"'{name}' is not an XTuner PROMPT_TEMPLATE name")
    config = outdir / "xtuner_qlora_config.py"
    systems = [s.system for s in kept if s.system]
    config.write_text(
        _CONFIG.format(
            config_name=config.name,
            model=model,
            data=str(data.resolve()),
            template=name,
            max_length=max_length,
            system=systems[0] if systems else "",
            evaluation_inputs=_evaluation_inputs(kept),
        ),
        encoding="utf-8",
    )
    return ExportResult(
        "xtuner", [data, config], shell_command("xtuner", "train", config), rejected=rejected
    )
