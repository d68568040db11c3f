"""Hand-off to XTuner 0.2: OpenAI ``messages`` JSONL and a Python config read by ``openai_map_fn``.

What XTuner's ``openai_map_fn`` cannot take (tool lists, tool calls, tool turns) is refused by
the one rule the ``xtuner`` profile uses (:func:`~sftforge.chat.profiles.xtuner.xtuner_refusal`),
so the export and ``tokenize --profile xtuner`` keep the same samples. Reasoning goes inline as
``<think>...</think>`` (XTuner has no field for it). The template is the ``PROMPT_TEMPLATE`` entry
:func:`~sftforge.chat.profiles.xtuner.xtuner_template` picks, the profile's choice too, with its
warning in the notes when it renders differently from the tokenizer's own template.

The config is plain Python written from ``repr`` of each value, so paths and prompts with quotes
or CJK stay valid. It starts unedited with or without CUDA: ``use_cuda``
(CUDA available when the config is loaded) picks XTuner's QLoRA recipe (4-bit NF4, fp16 AMP, NCCL) on a GPU and
float32 LoRA on a CPU (bitsandbytes' 4-bit layers and mmengine's ``AmpOptimWrapper`` need a GPU).
Rows are not packed unless ``--option pack_to_max_length=true``: one row per sample, the rows the
profile shows. Data paths are joined to the config file's own folder (``__file__``, which mmengine
sets when it loads the file; its ``{{ fileDirname }}`` is not filled in for a config with imports,
and XTuner configs have imports), so the folder works wherever it is copied. XTuner configs
have no evaluation loss set: with an eval split, ``validation.jsonl`` holds it and its first
prompts become the ``evaluation_inputs`` the ``EvaluateChatHook`` answers during training.
"""

from __future__ import annotations

from typing import Any

from ..chat.profiles.xtuner import XTUNER_OPTIONS, xtuner_refusal, xtuner_template
from ..errors import SftforgeError
from ..sample import Sample
from .common import ExportJob, ExportResult, ProfileSettings

__all__ = ["XTUNER_SETTINGS", "export_xtuner", "profile_settings", "to_xtuner_record"]

CONFIG_NAME = "xtuner_qlora_config.py"
# the config's training variables an --option may set (name -> XTuner's default); the options
# that change the rows are the profile's (XTUNER_OPTIONS)
XTUNER_SETTINGS: dict[str, int | float] = {
    "batch_size": 1,
    "accumulative_counts": 16,
    "dataloader_num_workers": 0,
    "max_epochs": 3,
    "lr": 2e-4,
    "weight_decay": 0.0,
    "max_norm": 1.0,
    "warmup_ratio": 0.03,
    "save_steps": 500,
    "save_total_limit": 2,
    "evaluation_freq": 500,
}


def to_xtuner_record(sample: Sample, template: str | None = None) -> dict[str, Any] | str:
    """The record ``openai_map_fn`` reads, or why XTuner (with ``template``) cannot take it."""
    refusal = xtuner_refusal(sample, template)
    if refusal is not None:
        return refusal
    messages = []
    for m in sample.messages:
        content = m.content
        if m.reasoning is not None and m.role == "assistant":
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        msg: dict[str, Any] = {"role": m.role, "content": content}
        if m.role == "assistant" and m.train is False:
            msg["loss"] = False
        messages.append(msg)
    return {"messages": messages}


_CONFIG = """# XTuner 0.2 config written by `sftforge export --for xtuner`. Run: xtuner train {config_name}
import torch
from datasets import load_dataset
from mmengine.dataset import DefaultSampler
from mmengine.hooks import (CheckpointHook, DistSamplerSeedHook, IterTimerHook,
                            LoggerHook, ParamSchedulerHook)
from mmengine.optim import AmpOptimWrapper, CosineAnnealingLR, LinearLR, OptimWrapper
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

# Chosen when the config is loaded, so this file starts unedited on either machine. With CUDA:
# XTuner's QLoRA recipe (4-bit NF4 weights through bitsandbytes, fp16 compute and fp16 AMP, NCCL
# between GPUs). Without CUDA: LoRA on float32 weights, no AMP, gloo (bitsandbytes' 4-bit layers
# and mmengine's AmpOptimWrapper need a GPU). Set use_cuda = False to force the CPU path.
# mmengine loads this file with lazy imports (every imported name is a placeholder that cannot be
# called while the file runs), so torch is asked through the __import__ builtin, which it leaves be.
use_cuda = __import__('torch').cuda.is_available()

pretrained_model_name_or_path = {model!r}
# this file's folder: the data is found wherever the folder is copied (mmengine's
# {{{{ fileDirname }}}} is not filled in for a config with imports, but __file__ is set)
export_dir = __import__('os').path.dirname(__import__('os').path.abspath(__file__))
data_path = __import__('os').path.join(export_dir, 'train.jsonl')
{eval_line}prompt_template = PROMPT_TEMPLATE.{template}
max_length = {max_length!r}
# False: one row per sample, the rows `sftforge tokenize --profile xtuner` shows. True packs the
# rows, in a random order, into max_length blocks (faster on a GPU; without use_varlen_attn the
# samples of a block then attend to each other).
pack_to_max_length = {pack!r}

batch_size = {batch_size!r}
accumulative_counts = {accumulative_counts!r}
dataloader_num_workers = {dataloader_num_workers!r}
max_epochs = {max_epochs!r}
optim_type = AdamW
lr = {lr!r}
betas = (0.9, 0.999)
weight_decay = {weight_decay!r}
max_norm = {max_norm!r}
warmup_ratio = {warmup_ratio!r}
save_steps = {save_steps!r}
save_total_limit = {save_total_limit!r}

evaluation_freq = {evaluation_freq!r}
SYSTEM = {system!r}
evaluation_inputs = {evaluation_inputs!r}

tokenizer = dict(
    type=AutoTokenizer.from_pretrained,
    pretrained_model_name_or_path=pretrained_model_name_or_path,
    trust_remote_code=True,
    padding_side='right')

if use_cuda:
    llm = dict(
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
            bnb_4bit_quant_type='nf4'))
else:
    llm = dict(
        type=AutoModelForCausalLM.from_pretrained,
        pretrained_model_name_or_path=pretrained_model_name_or_path,
        trust_remote_code=True,
        torch_dtype=torch.float32)

model = dict(
    type=SupervisedFinetune,
    llm=llm,
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

if use_cuda:
    optim_wrapper = dict(
        type=AmpOptimWrapper,
        optimizer=dict(type=optim_type, lr=lr, betas=betas, weight_decay=weight_decay),
        clip_grad=dict(max_norm=max_norm, error_if_nonfinite=False),
        accumulative_counts=accumulative_counts,
        loss_scale='dynamic',
        dtype='float16')
else:
    optim_wrapper = dict(
        type=OptimWrapper,
        optimizer=dict(type=optim_type, lr=lr, betas=betas, weight_decay=weight_decay),
        clip_grad=dict(max_norm=max_norm, error_if_nonfinite=False),
        accumulative_counts=accumulative_counts)

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
    dist_cfg=dict(backend='nccl' if use_cuda else 'gloo'))

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


def _records(
    samples: list[Sample], template: str, rejected: list[tuple[str, str]]
) -> tuple[list[Any], list[Sample]]:
    records, kept = [], []
    for s in samples:
        rec = to_xtuner_record(s, template)
        if isinstance(rec, str):
            rejected.append((s.id, rec))
        else:
            records.append(rec)
            kept.append(s)
    return records, kept


def _options(job: ExportJob) -> dict[str, Any]:
    """The config's variables from ``job.options`` over XTuner's defaults, checked."""
    options = dict(job.options)
    unknown = sorted(set(options) - set(XTUNER_OPTIONS) - set(XTUNER_SETTINGS))
    if unknown:
        raise SftforgeError(
            f"unknown xtuner option(s): {', '.join(unknown)}",
            field="option",
            hint=f"xtuner takes: {', '.join([*XTUNER_OPTIONS, *XTUNER_SETTINGS])}",
        )
    values: dict[str, Any] = dict(XTUNER_SETTINGS)
    for key, default in XTUNER_SETTINGS.items():
        value = options.get(key, default)
        wanted = float if isinstance(default, float) else int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SftforgeError(f"--option {key}={value!r} is not a number >= 0", field="option")
        if wanted is int and value != int(value):
            raise SftforgeError(f"--option {key}={value!r} must be a whole number", field="option")
        values[key] = wanted(value)
    values["pack"] = options.get("pack_to_max_length", False)
    if not isinstance(values["pack"], bool):
        raise SftforgeError(
            f"--option pack_to_max_length={values['pack']!r} must be true or false", field="option"
        )
    max_length = options.get("max_length", job.max_length)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise SftforgeError(f"--option max_length={max_length!r} is not a positive integer")
    values["max_length"] = max_length
    return values


def _template(job: ExportJob) -> tuple[str, list[str]]:
    """The one template decision (the profile's), from the model's tokenizer and --template."""
    given = job.template
    option = job.options.get("prompt_template")
    if option is not None and given is not None and option != given:
        raise SftforgeError(
            f"--template {given} and --option prompt_template={option} disagree", field="template"
        )
    tokenizer = None
    if job.tokenizer is not None:
        from ..chat.profiles import load_tokenizer

        tokenizer = load_tokenizer(job.tokenizer)
    return xtuner_template(tokenizer, given if given is not None else option)


def profile_settings(job: ExportJob) -> ProfileSettings:
    """The ``get_profile("xtuner", ...)`` arguments that encode what the exported config makes
    XTuner do: its template, ``max_length`` and ``pack_to_max_length``."""
    values = _options(job)
    template, _ = _template(job)
    return ProfileSettings(
        template=template,
        options={"pack_to_max_length": values["pack"]},
        max_length=values["max_length"],
    )


_README = (
    "XTuner 0.2 trains through mmengine and needs a GPU (CUDA) to train: on a CPU-only machine "
    "XTuner itself stops while building the model (its SupervisedFinetune asks "
    "`torch.cpu.is_bf16_supported()`, which torch does not have: AttributeError). The config "
    "picks the machine when it is loaded: with CUDA it is XTuner's QLoRA recipe (4-bit NF4 "
    "through bitsandbytes, fp16 AMP); without CUDA it is LoRA on float32 weights, which trains "
    "once XTuner gets past that check, and XTuner's data preparation (what `sftforge export "
    "--check` runs) works on any machine. `xtuner train` starts `python` from the PATH, so run it "
    "with XTuner's environment activated. XTuner 0.2 pins transformers 4.48, which cannot read "
    'a tokenizer saved by transformers 5 ("Tokenizer class TokenizersBackend does not exist"): '
    'give such a model folder a `tokenizer_config.json` with `"tokenizer_class": '
    '"PreTrainedTokenizerFast"` and its `extra_special_tokens` list as '
    "`additional_special_tokens`. XTuner sends no telemetry."
)
_CPU_NOTE = (
    "XTuner 0.2 cannot train on a CPU-only machine (its model building asks "
    "torch.cpu.is_bf16_supported(), which torch lacks): train on a CUDA GPU, where the config "
    "runs XTuner's QLoRA recipe"
)


def export_xtuner(job: ExportJob) -> ExportResult:
    values = _options(job)
    template, notes = _template(job)
    notes.append(_CPU_NOTE)
    rejected: list[tuple[str, str]] = []
    records, kept = _records(job.train, template, rejected)
    files = [job.add_jsonl("train.jsonl", records)]
    eval_line = ""
    asked = kept
    if job.eval:
        eval_records, eval_kept = _records(job.eval, template, rejected)
        files.append(job.add_jsonl("validation.jsonl", eval_records))
        eval_line = "eval_data_path = __import__('os').path.join(export_dir, 'validation.jsonl')\n"
        asked = eval_kept
    systems = [s.system for s in kept if s.system]
    text = _CONFIG.format(
        config_name=CONFIG_NAME,
        model=job.model,
        eval_line=eval_line,
        template=template,
        system=systems[0] if systems else "",
        evaluation_inputs=_evaluation_inputs(asked),
        **values,
    )
    files.append(job.add_text(CONFIG_NAME, text))
    if job.eval:
        notes.append(
            "XTuner has no evaluation-loss set: the eval split's first prompts are the "
            "evaluation_inputs, validation.jsonl holds the whole split"
        )
    return ExportResult(
        "xtuner",
        files,
        job.cd_command(f"xtuner train {CONFIG_NAME} --work-dir work_dirs/{job.name}"),
        notes=notes,
        rejected=rejected,
        readme=[_README],
    )
