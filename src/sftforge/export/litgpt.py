"""Hand-off to LitGPT 0.5: a ``data/`` folder with ``train.json`` + ``val.json`` (LitGPT's JSON
data module, ``instruction``/``input``/``output`` records), ``finetune_lora.yaml`` (the
``litgpt finetune_lora`` config) and ``finetune_lora.sh``, which converts the model to LitGPT's
checkpoint format once (``convert_checkpoint.py``) and starts training from the folder.

What the config says and why:

* ``data.prompt_style``: the one template decision (:func:`~sftforge.chat.profiles.litgpt.
  prompt_style_for`, also used by ``tokenize --profile litgpt``): ``--template`` or the style of
  the tokenizer's chat template, with a warning note when LitGPT's style renders conversations
  differently from the tokenizer's own template (LitGPT cannot train with a Jinja template);
* ``data.mask_prompt: true``: LitGPT's default ``false`` trains the prompts too
  (``--option mask_prompt=false`` writes that);
* multi-turn conversations become one record per assistant answer, the earlier turns written in
  the style's chat format (:mod:`~sftforge.chat.profiles.litgpt_styles`); what LitGPT's records
  cannot carry is rejected with the reason (``rejects.jsonl``);
* ``data.json_path: data``: the folder layout keeps every record in the training set in file
  order; without an eval split ``val.json`` is empty and the final validation is off, where
  LitGPT's single-file default would hold out 5 % of the training records at random;
* precision is left to LitGPT (``bf16-mixed`` on a GPU with bf16 and on CPU, ``16-mixed`` on older
  GPUs); ``PRECISION=32-true bash finetune_lora.sh`` chooses another.
"""

from __future__ import annotations

import shlex
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..chat.profiles.litgpt import StyleDecision, dropped_bos_note, prompt_style_for
from ..chat.profiles.litgpt_styles import litgpt_records
from ..errors import SftforgeError
from ..sample import Sample
from .common import ExportJob, ExportResult, ProfileSettings, dump_yaml

__all__ = ["export_litgpt", "litgpt_style", "profile_settings"]

_OPTIONS = frozenset({"mask_prompt"})


def litgpt_style(job: ExportJob) -> StyleDecision:
    """The prompt style the export writes (and ``profile_settings`` encodes with)."""
    tokenizer = None
    if job.tokenizer is not None:
        from ..chat.profiles import load_tokenizer

        tokenizer = load_tokenizer(job.tokenizer)
    return prompt_style_for(tokenizer, job.template, job.model)


def _mask_prompt(job: ExportJob) -> bool:
    unknown = set(job.options) - _OPTIONS
    if unknown:
        raise SftforgeError(
            f"unknown litgpt option(s): {', '.join(sorted(unknown))}",
            field="option",
            hint=f"the litgpt export takes: {', '.join(sorted(_OPTIONS))}",
        )
    value = job.options.get("mask_prompt", True)
    if not isinstance(value, bool):
        raise SftforgeError(f"--option mask_prompt must be true or false, not {value!r}")
    return value


def profile_settings(job: ExportJob) -> ProfileSettings:
    """``get_profile("litgpt", ...)`` arguments that encode what the exported config trains."""
    options: dict[str, Any] = {"mask_prompt": _mask_prompt(job)}
    if job.loss.allow:
        options["allow_lossy"] = True
    return ProfileSettings(litgpt_style(job).style, options, job.max_length)


def _records(
    samples: list[Sample], style: str, job: ExportJob, rejected: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in samples:
        try:
            out += litgpt_records(s, style, job.loss)
        except SftforgeError as exc:
            rejected.append((s.id, exc.message))
    return out


def _checkpoint_name(model: str) -> str:
    """Where LitGPT's checkpoint goes: ``checkpoints/<folder name>`` for a local folder (LitGPT
    finds a model's config by that name), ``checkpoints/<org>/<name>`` for a hub id."""
    if model.count("/") == 1 and not Path(model).expanduser().exists():
        return f"checkpoints/{model}"
    return f"checkpoints/{Path(model).expanduser().name or 'model'}"


def _config(job: ExportJob, style: str, mask_prompt: bool) -> str:
    config: dict[str, Any] = {
        "data": {
            "class_path": "litgpt.data.JSON",
            "init_args": {
                "json_path": "data",
                "mask_prompt": mask_prompt,
                "prompt_style": style,
            },
        },
        "train": {
            "max_seq_length": job.max_length,
            "global_batch_size": 16,
            "micro_batch_size": 1,
            "epochs": 5,
            "lr_warmup_steps": 100,
            "save_interval": 1000,
        },
        "eval": {"final_validation": bool(job.eval)},
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "out_dir": f"out/{job.name}-lora",
    }
    head = (
        "# litgpt finetune_lora CHECKPOINT --config finetune_lora.yaml (finetune_lora.sh does it)\n"
        "# data: LitGPT's JSON module on data/train.json + data/val.json; mask_prompt: true trains\n"
        "# the answers only (LitGPT's own default, false, trains the prompts too); prompt_style\n"
        "# is the format the prompts are written in (sftforge tokenize --profile litgpt shows it).\n"
        "# precision is not set: LitGPT picks bf16-mixed (GPU with bf16, and CPU) or 16-mixed\n"
        "# (older GPUs); add `precision: 32-true` here, or run PRECISION=32-true bash\n"
        "# finetune_lora.sh, to choose.\n"
    )
    if not job.eval:
        head += "# no eval split was exported: val.json is empty and the final validation is off.\n"
    return head + dump_yaml(config)


def _script(job: ExportJob) -> str:
    model, ckpt = job.model, _checkpoint_name(job.model)
    return f"""#!/usr/bin/env bash
# LitGPT LoRA fine-tuning on this folder (written by sftforge export --for litgpt).
#   bash finetune_lora.sh [more litgpt finetune_lora options, e.g. --train.epochs 3]
set -euo pipefail
cd "$(dirname "$0")"

command -v litgpt >/dev/null || {{ echo "litgpt is not on PATH: pip install 'litgpt[all]'" >&2; exit 1; }}

# The base model: a local Hugging Face model folder or a hub id; MODEL=... overrides it.
DEFAULT_MODEL={shlex.quote(model)}
MODEL="${{MODEL:-$DEFAULT_MODEL}}"
CKPT={shlex.quote(ckpt)}
# Precision: empty lets LitGPT choose (bf16-mixed on a GPU with bf16 and on CPU, 16-mixed on
# older GPUs); PRECISION=32-true (or bf16-true, 16-mixed...) chooses.
PRECISION="${{PRECISION:-}}"

# LitGPT trains from its own checkpoint format (lit_model.pth + model_config.yaml, with the
# tokenizer files) in $CKPT: converted once, skipped when it is already there.
if [ ! -f "$CKPT/lit_model.pth" ]; then
    if [ -d "$MODEL" ]; then
        # LitGPT's converter; a Llama whose name LitGPT does not know gets a config from config.json
        "$(dirname "$(command -v litgpt)")/python" convert_checkpoint.py "$MODEL" "$CKPT"
    else
        litgpt download "$MODEL" --checkpoint_dir checkpoints
    fi
fi

extra=()
if [ -n "$PRECISION" ]; then extra+=(--precision "$PRECISION"); fi
litgpt finetune_lora "$CKPT" --config finetune_lora.yaml ${{extra[@]+"${{extra[@]}}"}} "$@"
"""


def export_litgpt(job: ExportJob) -> ExportResult:
    mask_prompt = _mask_prompt(job)
    decision = litgpt_style(job)
    rejected: list[tuple[str, str]] = []
    train = _records(job.train, decision.style, job, rejected)
    evals = _records(job.eval, decision.style, job, rejected)
    converter = files("sftforge.export.peers").joinpath("litgpt_convert.py").read_text("utf-8")
    out = [
        job.add_json("data/train.json", train),
        job.add_json("data/val.json", evals),
        job.add_text("finetune_lora.yaml", _config(job, decision.style, mask_prompt)),
        job.add_text("convert_checkpoint.py", converter),
        job.add_text("finetune_lora.sh", _script(job), executable=True),
    ]
    notes = [decision.note] if decision.note else []
    if job.tokenizer is not None and (Path(job.tokenizer) / "tokenizer.json").is_file():
        notes += [n for n in [dropped_bos_note(Path(job.tokenizer), decision.style)] if n]
    answers = len(train) + len(evals)
    kept = len(job.train) + len(job.eval) - len(rejected)
    if answers != kept:
        notes.append(
            f"{kept} samples written as {answers} LitGPT records: one per assistant answer, the "
            f"earlier turns in the '{decision.style}' prompt"
        )
    readme = [
        "## LitGPT",
        "The script converts the model once into `" + _checkpoint_name(job.model) + "` "
        "(LitGPT's checkpoint format; the model folder itself is not written to; a hub id is "
        "downloaded with `litgpt download`), then runs `litgpt finetune_lora` with "
        "`finetune_lora.yaml`. A local model LitGPT does not know by its folder name is converted "
        "with a config made from its `config.json` (Llama architecture only); give the folder "
        "LitGPT's name for a known model (`litgpt download list`). `MODEL=PATH bash "
        "finetune_lora.sh` points it at the model on this machine.",
        f"The prompts are written in LitGPT's `{decision.style}` prompt style "
        + ("and not trained (`mask_prompt: true`)" if mask_prompt else "and trained too")
        + "; multi-turn conversations are one record per assistant answer with the earlier "
        "turns in the prompt. Precision: LitGPT's own choice (bf16-mixed on CPU, where one "
        "training step was checked, and on GPUs with bf16; 16-mixed on older GPUs); "
        "`PRECISION=32-true bash finetune_lora.sh` chooses. LitGPT sends no telemetry; only "
        "`litgpt download` (a hub id) needs the network. `pip install 'litgpt[all]'` (plain "
        "`litgpt` lacks `requests`, which its command line needs).",
    ]
    return ExportResult(
        "litgpt",
        out,
        f"bash {shlex.quote(str(out[-1]))}",
        notes=notes,
        rejected=rejected,
        readme=readme,
    )
