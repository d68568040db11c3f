"""Hand-off to ms-swift: ``messages`` JSONL (``tool_call``/``tool_response`` turns, via the
``swift`` format) and ``train_swift.sh`` running ``swift sft --model ... --dataset ... --tuner_type lora``;
with an eval split, ``--val_dataset``. The script ``cd``s to its folder: paths are relative.

The template is decided once (:func:`sftforge.chat.profiles.swift.swift_template`, the function
``tokenize --profile swift`` uses) and written as ``--template``; the token options
(``--option KEY=VALUE``: ``truncation_strategy``, ``loss_scale``, ``agent_template``,
``default_system``, ``template_backend``) are written as ms-swift arguments, and
:func:`profile_settings` gives the profile arguments that encode what the script makes ms-swift do.
The precision is decided by the script on the machine that trains: ms-swift's own choice (the
model config's ``torch_dtype``) where a bf16 GPU is there, else float32 without mixed precision
(ms-swift alone stops on a CPU with a bf16 model); ``--option torch_dtype=...`` writes a fixed one.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from ..chat.profiles.swift import OPTIONS, RUN_OPTIONS, SWIFT_TEMPLATES, swift_template
from ..chat.profiles.swift_jinja import JINJA_TEMPLATE_TYPES
from ..errors import SftforgeError
from ..formats import get_format
from .common import ExportJob, ExportResult, ProfileSettings, shell_script, split_records

__all__ = ["export_swift", "profile_settings"]

# written as `--name value`; ``swift_template`` (the jinja backend's type) is written as --template,
# ``chat_template`` cannot be given to ms-swift (it reads the model's tokenizer)
_TOKEN_OPTIONS = tuple(o for o in OPTIONS if o not in ("chat_template", "swift_template"))


def _tokenizer(job: ExportJob) -> Any:
    if job.tokenizer is None:
        return None
    from ..chat.profiles import load_tokenizer

    return load_tokenizer(job.tokenizer)


def _check_options(job: ExportJob) -> None:
    unknown = set(job.options) - {*_TOKEN_OPTIONS, *RUN_OPTIONS, "swift_template"}
    if unknown:
        raise SftforgeError(
            f"unknown ms-swift option(s) for the export: {', '.join(sorted(unknown))}",
            field="option",
            hint=f"the export writes: {', '.join((*_TOKEN_OPTIONS, *RUN_OPTIONS))}",
        )


def _decision(job: ExportJob) -> tuple[str, str | None, dict[str, Any]]:
    """(``--template`` value, warning, token options) as the script gets them."""
    _check_options(job)
    if job.template is not None and not re.fullmatch(r"[\w.:/-]+", job.template):
        raise SftforgeError(
            f"'{job.template}' is not an ms-swift template name.",
            field="template",
            hint="ms-swift template types are names such as qwen2_5 or llama3",
        )
    options = {k: v for k, v in job.options.items() if k in _TOKEN_OPTIONS}
    template = job.template
    if template is not None and (template == "tokenizer" or template.startswith("tokenizer:")):
        if template != "tokenizer":
            raise SftforgeError(
                f"ms-swift's jinja backend uses the model's own chat template, not '{template}'",
                field="template",
                hint="use --template tokenizer, or name an ms-swift template type",
            )
        options["template_backend"] = "jinja"
        template = None
    if options.get("template_backend") == "jinja":
        # the ms-swift type still gives the default system and the agent template
        kind = str(template or job.options.get("swift_template") or "qwen3_nothinking")
        if kind not in JINJA_TEMPLATE_TYPES:
            raise SftforgeError(
                f"unknown ms-swift template type '{kind}' for the jinja backend",
                field="template",
                hint=f"use one of: {', '.join(JINJA_TEMPLATE_TYPES)}",
            )
        return kind, None, options
    if "swift_template" in job.options:
        raise SftforgeError(
            "option swift_template is for ms-swift's jinja backend (--template tokenizer)",
            field="option",
            hint="name the ms-swift template type with --template instead",
        )
    if template is not None and template.endswith((".jinja", ".json", ".gguf")):
        raise SftforgeError(
            f"ms-swift cannot be given a chat template file ('{template}')",
            field="template",
            hint="put the template in the model's tokenizer and use --template tokenizer, or "
            "name an ms-swift template type",
        )
    tok = _tokenizer(job) if template is None else None
    name, note = swift_template(tok, template)
    if name not in SWIFT_TEMPLATES:
        note = (
            f"ms-swift's '{name}' template is not one the swift profile follows "
            f"({', '.join(SWIFT_TEMPLATES)}): `tokenize --profile swift` cannot show its tokens"
        )
    return name, note, options


def profile_settings(job: ExportJob) -> ProfileSettings:
    """The ``get_profile("swift", ...)`` arguments that encode what ``train_swift.sh`` makes
    ms-swift do: the decided template type (or the jinja backend with its type), the token options,
    ``max_length``."""
    name, _, options = _decision(job)
    if options.get("template_backend") == "jinja":
        return ProfileSettings(None, {**options, "swift_template": name}, job.max_length)
    return ProfileSettings(name, options, job.max_length)


def _model_type(job: ExportJob) -> str | None:
    """``--model_type``: the option, else the local model's ``config.json`` ``model_type`` (ms-swift
    refuses a local folder whose architecture several of its model types share, such as Llama)."""
    if "model_type" in job.options:
        return str(job.options["model_type"])
    config = Path(job.model).expanduser() / "config.json"
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# the precision, decided on the machine that trains: ms-swift alone takes bf16 from a bf16 model's
# config.json and then stops where there is no bf16 GPU
_PRECISION = """\
# Precision: ms-swift takes torch_dtype from the model's config.json and mixed precision to match;
# with a bf16 model that stops on a machine without a bf16 GPU (a CPU, older GPUs: "Your setup
# doesn't support bf16/gpu"). So: ms-swift's own choice where a bf16 GPU is there, else float32
# without mixed precision (a float16 GPU can take --torch_dtype float16 instead; slower on CPU).
BF16_GPU='import sys, torch; sys.exit(not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()))'
PRECISION=()
if ! { python3 -c "$BF16_GPU" || python -c "$BF16_GPU"; } 2>/dev/null; then
    PRECISION=(--torch_dtype float32 --fp16 false --bf16 false)
fi
# Template: ms-swift's '{template}', the one `sftforge tokenize --profile swift` encodes with.
"""
_PLACEHOLDER = "@PRECISION@"


def export_swift(job: ExportJob) -> ExportResult:
    template, note, options = _decision(job)
    train, evals, rejected = split_records(job, get_format("swift").dump)
    files = [job.add_jsonl("train.jsonl", train)]
    args = [
        ["swift", "sft"],
        ["--model", job.model],
    ]
    model_type = _model_type(job)
    if model_type is not None:
        args.append(["--model_type", model_type])
    args += [
        ["--tuner_type", "lora"],  # ms-swift 4.x name (3.x: --train_type)
        ["--dataset", "train.jsonl"],
    ]
    if job.eval:
        files.append(job.add_jsonl("validation.jsonl", evals))
        args += [["--val_dataset", "validation.jsonl"], ["--split_dataset_ratio", "0"]]
    args += [
        ["--template", template],
        *([f"--{k}", str(v)] for k, v in options.items()),
        ["--max_length", str(job.max_length)],
    ]
    if "torch_dtype" in job.options:
        args.append(["--torch_dtype", str(job.options["torch_dtype"])])
    else:
        args.append([_PLACEHOLDER])
    args += [
        ["--num_train_epochs", "3"],
        ["--per_device_train_batch_size", "1"],
        ["--gradient_accumulation_steps", "16"],
        ["--learning_rate", "1e-4"],
        ["--lora_rank", "8"],
        ["--lora_alpha", "32"],
        ["--target_modules", "all-linear"],
        ["--output_dir", f"output/{job.name}"],
    ]
    script = shell_script(args)
    head, sep, body = script.partition('cd "$(dirname "$0")"\n')
    # the placeholder's own line only (a path that holds the same text stays as it is)
    body = body.replace(
        f"\n    {_PLACEHOLDER} \\\n", '\n    ${PRECISION[@]+"${PRECISION[@]}"} \\\n'
    )
    script = head + sep + _PRECISION.replace("{template}", template) + body
    files.append(job.add_text("train_swift.sh", script, executable=True))
    result = ExportResult("swift", files, f"bash {shlex.quote(str(files[-1]))}", rejected=rejected)
    if note:
        result.notes.append(note)
    result.readme.append(
        "ms-swift 4.x runs `train_swift.sh` on a GPU or a CPU: the script keeps ms-swift's own "
        "precision (the model config's dtype) where a bf16 GPU is there and trains in float32 "
        "elsewhere (see its comments; `--option torch_dtype=...` at export fixes one). A model id "
        "is downloaded from ModelScope (add `--use_hf true` for the Hugging Face Hub); a local "
        "`--model` folder needs no network. The template is ms-swift's "
        f"`{template}`; `sftforge tokenize --profile swift` with the same `--template` and "
        "`--option` values shows the exact ids and labels ms-swift builds."
    )
    return result
