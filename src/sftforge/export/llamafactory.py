"""Hand-off to LLaMA-Factory: the data file, its ``dataset_info.json`` entry and a training YAML.

The data is ShareGPT-style JSON with role/content tags (see
:func:`sftforge.chat.profiles.llamafactory.to_lf_record`), which the ``llamafactory`` profile reads
exactly as LLaMA-Factory 0.9.5 does, so ``--profile llamafactory`` ids equal the trainer's.

The YAML holds what decides the tokens, taken with the profile's own functions
(``chat/profiles/llamafactory_choice.py``): the template (``choose_lf_template``: with no
``--template`` the key is left out, so LLaMA-Factory parses the model's own chat template, as the
profile does), the data options (``check_lf_options``) and ``cutoff_len`` (``--max-len``, 2048 for
both). :func:`profile_settings` gives the profile arguments that reproduce it. Precision is left to
LLaMA-Factory (a comment offers ``bf16``/``fp16``), so the file starts on a CPU as on a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ..chat.profiles.llamafactory import LF_DATASET_TAGS, align_lf_record, to_lf_record
from ..chat.profiles.llamafactory_choice import (
    LFTemplateChoice,
    check_lf_options,
    choose_lf_template,
)
from ..errors import InputError, SftforgeError
from ..sample import Message, Sample
from .common import ExportJob, ExportResult, ProfileSettings, dump_yaml, write_json

__all__ = [
    "dataset_info_entry",
    "export_llamafactory",
    "lf_records",
    "profile_settings",
    "write_llamafactory_data",
]

CONFIG = "train_lora_sft.yaml"


def dataset_info_entry(file_name: str, *, with_tools: bool) -> dict[str, Any]:
    columns = {"messages": "messages"}
    if with_tools:
        columns["tools"] = "tools"
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": dict(LF_DATASET_TAGS),
    }


def read_dataset_info(path: Path) -> dict[str, Any]:
    """The folder's ``dataset_info.json`` (empty when there is none), or an error naming it."""
    if not path.exists():
        return {}
    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(
            f"cannot read the existing dataset_info.json ({exc}).",
            file=str(path),
            hint="fix or remove it, or export into another folder",
        ) from None
    if not isinstance(info, dict):
        raise InputError(
            "the existing dataset_info.json is not a JSON object.",
            file=str(path),
            hint="fix or remove it, or export into another folder",
        )
    return info


def lf_records(samples: Iterable[Sample]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The records LLaMA-Factory reads; samples it would drop (role order, no final answer) or
    that carry media come back as (id, reason) instead."""
    records, rejected = [], []
    for s in samples:
        rec = to_lf_record(s)
        why = "media are not exported to LLaMA-Factory yet" if s.media else align_lf_record(rec)
        if isinstance(why, str):
            rejected.append((s.id, why))
        else:
            records.append(rec)
    return records, rejected


def write_llamafactory_data(
    samples: Iterable[Sample], outdir: Path, *, name: str
) -> tuple[Path, list[tuple[str, str]]]:
    """``<name>.json`` and ``dataset_info.json`` (merged into an existing one) in ``outdir``,
    written at once (no overwrite check: ``export_samples`` is the checked path)."""
    records, rejected = lf_records(samples)
    data_file = outdir / f"{name}.json"
    write_json(data_file, records)
    info_path = outdir / "dataset_info.json"
    info = read_dataset_info(info_path)
    info[name] = dataset_info_entry(data_file.name, with_tools=any("tools" in r for r in records))
    write_json(info_path, info)
    return data_file, rejected


def profile_settings(job: ExportJob) -> ProfileSettings:
    """The ``get_profile("llamafactory", ...)`` arguments that encode what the exported YAML
    makes LLaMA-Factory do: its ``template`` (``None``: left out, so the tokenizer's own is
    parsed), its data options and its ``cutoff_len``."""
    return ProfileSettings(
        template=choose_lf_template(None, job.template).name,
        options=check_lf_options(job.options),
        max_length=job.max_length,
    )


def export_llamafactory(job: ExportJob) -> ExportResult:
    """``<name>.json`` (+ ``<name>_eval.json``), their ``dataset_info.json`` entries (merged into
    the folder's existing file) and ``train_lora_sft.yaml`` with ``dataset_dir: .``."""
    settings = profile_settings(job)  # refuses unknown or ill-typed options before any work
    tokenizer = _load(job.tokenizer)
    choice = choose_lf_template(tokenizer, job.template)
    info = read_dataset_info(job.outdir / "dataset_info.json")
    splits = [(job.name, job.train)] + ([(f"{job.name}_eval", job.eval)] if job.eval else [])
    rejected: list[tuple[str, str]] = []
    files = []
    with_tools = False
    for name, samples in splits:
        records, dropped = lf_records(samples)
        rejected += dropped
        files.append(job.add_json(f"{name}.json", records))
        if name in info:
            job.conflicts.append(f"dataset_info.json entry '{name}'")
        has_tools = any("tools" in r for r in records)
        with_tools |= has_tools
        info[name] = dataset_info_entry(f"{name}.json", with_tools=has_tools)
    files.append(job.add_json("dataset_info.json", info, merged=True))
    notes = _template_notes(choice, tokenizer, settings, with_tools=with_tools)
    files.append(job.add_text(CONFIG, _config_text(job, choice, settings)))
    return ExportResult(
        framework="llamafactory",
        files=files,
        command=job.cd_command(f"llamafactory-cli train {CONFIG}"),
        rejected=rejected,
        notes=notes,
        readme=_readme(choice),
    )


def _load(tokenizer: str | None) -> Any | None:
    if tokenizer is None:
        return None
    from ..chat.profiles import load_tokenizer

    return load_tokenizer(tokenizer)


# What the config says about its template, as YAML comment lines (one per line, no newlines).
_TEMPLATE_COMMENT = {
    "tokenizer": [
        "template: not set, so LLaMA-Factory parses the tokenizer's own chat template",
        "(parse_template) - what `sftforge tokenize --profile llamafactory` encodes without",
        "--template. Name a LLaMA-Factory template here only if it renders the same.",
    ],
    "model": [
        "template: not set, so LLaMA-Factory parses the model tokenizer's own chat template",
        "(its `empty` template when the tokenizer has none) - what `sftforge tokenize --profile",
        "llamafactory --tokenizer MODEL` encodes without --template.",
    ],
    "empty": [
        "template: not set; the tokenizer has no chat template, so LLaMA-Factory uses its",
        "`empty` template (no role markers), as `sftforge tokenize --profile llamafactory` does.",
        "Name a template here (and pass it to tokenize as --template) to train a chat format.",
    ],
    "named": ["template: from --template (`sftforge tokenize --profile llamafactory --template`)."],
}

_PRECISION_COMMENT = [
    "precision: neither bf16 nor fp16 is set, so LLaMA-Factory 0.9.5 loads the model in its",
    "checkpoint's dtype (torch_dtype: auto), keeps the LoRA weights in fp32 and trains without",
    "mixed precision: the file starts on a CPU as on a GPU. For mixed precision on a GPU,",
    "uncomment ONE line: bf16 on a GPU with bf16 (Ampere or newer), fp16 on an older GPU",
    '(V100, T4). bf16: true stops on a CPU ("Your setup doesn\'t support bf16/gpu").',
    "bf16: true",
    "fp16: true",
]


def _comments(lines: list[str]) -> str:
    return "".join(f"# {line}\n" for line in lines)


def _config_text(job: ExportJob, choice: LFTemplateChoice, settings: ProfileSettings) -> str:
    """``train_lora_sft.yaml``: PyYAML writes the values, the decisions are comment lines between
    top-level keys (each key dumped on its own, so the text stays one valid mapping)."""
    head = {
        "model_name_or_path": job.model,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "dataset": job.name,
        "dataset_dir": ".",  # relative: run from the export folder (the command cds there)
    }
    data: dict[str, Any] = {}
    if choice.name is not None:
        data["template"] = choice.name
    data["cutoff_len"] = settings.max_length
    data |= settings.options  # the token options given, by LLaMA-Factory's names
    train: dict[str, Any] = {
        "overwrite_cache": True,
        "output_dir": f"saves/{job.name}/lora-sft",
        "logging_steps": 10,
        "save_steps": 500,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "learning_rate": 1.0e-4,
        "num_train_epochs": 3.0,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
    }
    if job.eval:
        train |= {
            "eval_dataset": f"{job.name}_eval",
            "per_device_eval_batch_size": 1,
            "eval_strategy": "steps",
            "eval_steps": 500,
        }
    return (
        dump_yaml(head)
        + _comments(_TEMPLATE_COMMENT[choice.source])
        + dump_yaml(data)
        + dump_yaml(train)
        + _comments(["no experiment tracker (wandb, ...): the folder trains offline"])
        + dump_yaml({"report_to": "none"})
        + _comments(_PRECISION_COMMENT)
    )


def _template_notes(
    choice: LFTemplateChoice, tokenizer: Any | None, settings: ProfileSettings, *, with_tools: bool
) -> list[str]:
    """Warnings about what the template decision means for this model and data."""
    opts = settings.options
    if choice.source == "model":
        return [
            "template left to LLaMA-Factory (the model's own chat template, parsed): the "
            "tokenizer is not known here, so it was not checked; pass --tokenizer (or a local "
            "--model) to check it"
        ]
    if choice.source == "empty":
        return [
            "the tokenizer has no chat template: LLaMA-Factory will train on its `empty` template "
            "(no role markers); pass --template NAME to train a chat format"
        ]
    if choice.source == "named":
        return _named_notes(choice, tokenizer, settings)
    notes = []
    tpl = choice.build(tokenizer)
    if tpl.kind == "reasoning" and "enable_thinking" not in opts:
        notes.append(
            "the tokenizer's chat template writes <think> blocks, so LLaMA-Factory treats it as a "
            "reasoning template and adds an empty, trained <think></think> block to every answer "
            "without one (enable_thinking: true, its default); --option enable_thinking=false "
            "puts it in the prompt instead, untrained"
        )
    if with_tools and "tool_format" not in opts:
        notes.append(
            "with the tokenizer's own template LLaMA-Factory writes tools and tool calls in its "
            "`default` format (Action: / Action Input:), not the model's own; pass --option "
            "tool_format=qwen (or glm4, llama3, mistral) to use that format instead"
        )
    return notes


def _named_notes(
    choice: LFTemplateChoice, tokenizer: Any | None, settings: ProfileSettings
) -> list[str]:
    """``--template NAME``: a template the profile cannot check, or one that renders otherwise
    than the tokenizer's own chat template (the format the model was trained with)."""
    from ..chat.profiles import Encoded, get_profile

    name = str(choice.name)
    try:
        choice.build(tokenizer)
    except SftforgeError:
        return [
            f"the llamafactory profile does not reproduce template '{name}': `tokenize --profile "
            "llamafactory` and `export --check` cannot check its tokens (LLaMA-Factory itself "
            "refuses the config at start if it has no such template)"
        ]
    if tokenizer is None or not isinstance(getattr(tokenizer, "chat_template", None), str):
        return []
    turns = [("system", "S"), ("user", "Q"), ("assistant", "A")]
    probes = [
        Sample([Message(r, c) for r, c in turns]),  # type: ignore[arg-type]
        Sample([Message(r, c + n) for n in "12" for r, c in turns[1:]]),  # type: ignore[arg-type]
    ]
    opts, cut = settings.options, settings.max_length
    try:
        named = get_profile("llamafactory", tokenizer, template=name, max_length=cut, **opts)
    except SftforgeError as exc:
        return [f"template '{name}' does not fit this tokenizer: {exc.message}"]
    own = get_profile("llamafactory", tokenizer, max_length=cut, **opts)
    for probe in probes:
        a, b = named.encode(probe), own.encode(probe)
        if not (isinstance(a, Encoded) and isinstance(b, Encoded)):
            continue
        if (a.input_ids, a.labels) != (b.input_ids, b.labels):
            shown = [tokenizer.decode(x.input_ids)[:160] for x in (a, b)]
            return [
                f"--template {name} renders differently from the tokenizer's own chat "
                f"template, so the model is trained on {name}'s format, not the one it was "
                f"made with ({name}: {shown[0]!r}; tokenizer: {shown[1]!r}); leave --template "
                "out to train on the tokenizer's own (LLaMA-Factory parses it)"
            ]
    return []


def _readme(choice: LFTemplateChoice) -> list[str]:
    template = (
        f"the `{choice.name}` template (`template: {choice.name}`)"
        if choice.name is not None
        else "the model tokenizer's own chat template (`template` is left out, so LLaMA-Factory "
        "parses it; its `empty` template if the tokenizer has none)"
    )
    return [
        "**Machine.** LLaMA-Factory 0.9.5 with its dependencies (PyTorch, transformers, peft; it "
        "imports torchaudio at start, which its pip install brings). The config starts on a CPU "
        "(slow: for a smoke test) and on a GPU as written: no mixed precision, the model in its "
        "checkpoint's dtype, the LoRA weights in fp32. For mixed precision on a GPU uncomment "
        f"`bf16: true` (Ampere or newer) or `fp16: true` (older GPUs) in `{CONFIG}`. "
        "`report_to: none`: no experiment tracker is contacted; LLaMA-Factory itself sends no "
        "telemetry.",
        f"**Tokens.** LLaMA-Factory encodes the data with {template}, `cutoff_len` and the data "
        "options written in the config; `sftforge tokenize DATA out.parquet --tokenizer MODEL "
        "--profile llamafactory` with the same `--template`, `--max-len` and `--option` values "
        "gives the same ids and labels.",
    ]
