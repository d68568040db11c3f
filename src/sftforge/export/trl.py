"""Hand-off to TRL 1.16: ``messages`` (+ ``tools``) JSONL exactly as the ``trl`` profile encodes
it, ``train_trl.py`` (an ``SFTTrainer`` script that builds its paths from its own location),
``train_trl.sh`` (the same run as a ``trl sft`` command line) and, when the model's template
cannot be used as it is, ``chat_template.jinja`` (named by ``chat_template_path``); with an eval
split, a ``validation`` split and ``eval_strategy``.

What the two entry points configure, and why:

* **template and loss** - one decision (:func:`~sftforge.chat.profiles.trl_template.
  decide_trl_template`, the one ``tokenize --profile trl`` takes): ``assistant_only_loss=True``
  (loss on the answers) needs ``{% generation %}`` marks, which TRL only supplies for the
  templates it knows, and stops at start without; the export ships a checked marked copy of the
  model's template (or of ``--template``). When none can be made, or no tokenizer was given to
  check it with, it writes ``assistant_only_loss=False`` (TRL's default) and says why in a note.
  Options given with ``--option`` (TRL's names, the profile's :data:`TRL_OPTIONS`) are written
  as given; :func:`profile_settings` returns the profile arguments for exactly that config.
* **rows TRL would stop on** - with ``assistant_only_loss``, one row with no assistant token
  stops TRL's dataset preparation ("at least one example has no assistant tokens"), as does a
  row the template fails on: the profile finds them and they go to ``rejects.jsonl`` instead.
* **tools** - written as JSON text: TRL parses a string ``tools`` column (``json.loads``) and the
  tool schemas reach the template as written. As nested JSON, ``datasets`` would turn them into
  one struct type for all rows (keys in one order, missing keys as ``null``).
* **precision** - TRL's default ``bf16=True`` stops at start on a CPU or a GPU without bf16
  ("Your setup doesn't support bf16/gpu"): the script and the command ask torch at start, bf16
  where the GPU has it, 32-bit elsewhere.
* **telemetry** - ``report_to="none"`` and ``HF_HUB_DISABLE_TELEMETRY=1``: nothing is sent from
  an offline training machine.
"""

from __future__ import annotations

import json
from typing import Any

from ..chat.profiles.trl import TRL_OPTIONS, to_trl_record
from ..chat.profiles.trl_template import (
    MARKED_BY,
    TrlTemplate,
    decide_trl_template,
    given_template,
)
from ..chat.templates import has_generation_marks
from ..errors import SftforgeError
from ..sample import Sample
from .common import ExportJob, ExportResult, ProfileSettings, shell_script, split_records

__all__ = ["export_trl", "profile_settings"]

TEMPLATE_FILE = "chat_template.jinja"

_TRL_SCRIPT = '''"""Fine-tune with TRL on the data exported by sftforge (run: python {script})."""

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # no usage reports from this machine

import torch
from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))  # paths are relative to this folder
data_files = {data_files}
dataset = load_dataset("json", data_files={{k: os.path.join(HERE, v) for k, v in data_files.items()}})
# precision, chosen here at start: bf16 where the GPU has it, else 32-bit (TRL's default bf16=True
# stops at start on a CPU or on a GPU older than Ampere)
bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
config = SFTConfig(
    output_dir=os.path.join(HERE, {out!r}),
{options}
    bf16=bf16,
    report_to="none",
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

# the shell command's own lines before `trl sft`: the same precision choice as the script
_SH_PREAMBLE = [
    "export HF_HUB_DISABLE_TELEMETRY=1  # no usage reports from this machine",
    "# precision, chosen here at start: bf16 where the GPU has it, else 32-bit (TRL's default",
    "# bf16=True stops at start on a CPU or on a GPU older than Ampere); python: trl's own",
    "BF16=$(python -c 'import torch; print(torch.cuda.is_available() and "
    "torch.cuda.is_bf16_supported())')",
]

_OPTION_COMMENTS = {
    "assistant_only_loss": "loss on the tokens inside the template's {% generation %} spans",
    "completion_only_loss": "loss on the completion only (prompt/completion rows)",
    "truncation_mode": "which end of a row longer than max_length is kept",
    "chat_template_path": "the template TRL renders with (see README.md)",
}


def _trl_options(job: ExportJob) -> tuple[dict[str, Any], str]:
    """The options given with ``--option``, checked as the profile checks them: (options, layout)."""
    options = dict(job.options)
    unknown = set(options) - set(TRL_OPTIONS)
    if unknown:
        raise SftforgeError(
            f"unknown trl option(s): {', '.join(sorted(unknown))}",
            field="option",
            hint=f"TRL options sftforge writes: {', '.join(TRL_OPTIONS)}",
        )
    for key in ("assistant_only_loss", "completion_only_loss"):
        if key in options and not isinstance(options[key], bool):
            raise SftforgeError(
                f"trl option {key} must be true or false, not {options[key]!r}",
                field="option",
                hint=f"for example --option {key}=true",
            )
    if options.get("truncation_mode", "keep_start") not in ("keep_start", "keep_end"):
        raise SftforgeError(
            f"trl truncation_mode must be keep_start or keep_end, not {options['truncation_mode']!r}",
            field="option",
        )
    layout = str(options.pop("layout", "messages"))
    if layout not in ("messages", "prompt_completion"):
        raise SftforgeError(
            f"trl layout must be 'messages' or 'prompt_completion', not {layout!r}",
            field="option",
        )
    return options, layout


def _decide(job: ExportJob) -> tuple[TrlTemplate, Any, dict[str, Any], str]:
    """(the template decision, the tokenizer or None, options, layout)."""
    options, layout = _trl_options(job)
    asked = options.get("assistant_only_loss")
    if job.tokenizer is None:
        return _decide_without_tokenizer(job, options, asked), None, options, layout
    from ..chat.profiles import load_tokenizer

    tokenizer = load_tokenizer(job.tokenizer)
    decided = decide_trl_template(
        tokenizer,
        given_template(tokenizer, job.template, options),
        assistant_only_loss=True if asked is None else bool(asked),
        fallback=asked is None,  # the export's own choice may fall back; the user's is kept
    )
    return decided, tokenizer, options, layout


def _decide_without_tokenizer(job: ExportJob, options: dict[str, Any], asked: Any) -> TrlTemplate:
    """No tokenizer to check a template with: a given template with marks is used as it is;
    otherwise every token is trained (TRL's default), said in a note. An explicit
    ``assistant_only_loss=true`` that cannot be checked is refused."""
    given = given_template(None, job.template, options)
    if given is not None and has_generation_marks(given):
        return TrlTemplate(given, False, asked is None or bool(asked))
    if asked:
        raise SftforgeError(
            "assistant_only_loss needs a chat template with {% generation %} marks, checked "
            "with the model's tokenizer, and no tokenizer was given.",
            field="option",
            hint="pass --tokenizer (or a local --model folder), or a template with marks",
        )
    notes = []
    if asked is None:
        notes.append(
            "assistant_only_loss is off (every token is trained, TRL's default): without a "
            "tokenizer (--tokenizer, or a local --model folder) no template with the "
            "{% generation %} marks it needs can be made and checked"
        )
    if given is None:  # the tokenizer's own, unread here ("" : no text to ship or encode with)
        return TrlTemplate("", True, False, notes)
    return TrlTemplate(given, False, False, notes)


def _settings(
    job: ExportJob, decided: TrlTemplate, options: dict[str, Any], layout: str
) -> tuple[dict[str, Any], list[str]]:
    """The SFTConfig options the export writes (TRL's names) and notes about them."""
    written: dict[str, Any] = {
        "max_length": job.max_length,
        "assistant_only_loss": decided.assistant_only_loss,
    }
    notes = list(decided.notes)
    if not decided.own:
        written["chat_template_path"] = TEMPLATE_FILE
    for key in ("completion_only_loss", "truncation_mode"):
        if key in options:
            written[key] = options[key]
    if layout != "messages":
        notes.append(f"rows are written as {layout} (prompt and completion columns)")
    return written, notes


def profile_settings(job: ExportJob) -> ProfileSettings:
    """The ``trl`` profile arguments for what this export's script makes TRL do."""
    decided, _tok, options, layout = _decide(job)
    written, _notes = _settings(job, decided, options, layout)
    return _profile_settings(job, decided, written, layout)


def _profile_settings(
    job: ExportJob, decided: TrlTemplate, written: dict[str, Any], layout: str
) -> ProfileSettings:
    profile_options: dict[str, Any] = {
        k: v for k, v in written.items() if k not in ("max_length", "chat_template_path")
    }
    profile_options["layout"] = layout
    if decided.source:  # the text TRL renders with ("": the tokenizer's own, unread)
        profile_options["chat_template"] = decided.source
    return ProfileSettings(template=None, options=profile_options, max_length=job.max_length)


def _stops_trl(job: ExportJob, tokenizer: Any, settings: ProfileSettings) -> dict[str, str]:
    """Sample id -> why, for the samples TRL's dataset preparation would stop on (the profile
    rejects them). Rows left without a trained token by truncation are not among them: TRL
    drops those itself."""
    from ..chat.profiles import Rejected, get_profile

    options = dict(settings.options)
    profile = get_profile("trl", tokenizer, max_length=2**62, **options)
    out = profile.encode_batch([*job.train, *job.eval])
    return {r.sample_id: r.reason for r in out if isinstance(r, Rejected)}


def _python_value(key: str, value: Any) -> str:
    if key == "chat_template_path":
        return f"os.path.join(HERE, {value!r})"
    return repr(value)


def export_trl(job: ExportJob) -> ExportResult:
    decided, tokenizer, options, layout = _decide(job)
    written, notes = _settings(job, decided, options, layout)
    stops: dict[str, str] = {}
    if tokenizer is not None:
        stops = _stops_trl(job, tokenizer, _profile_settings(job, decided, written, layout))

    def dump(sample: Sample, _loss: Any) -> dict[str, Any]:
        if sample.id in stops:
            raise SftforgeError(f"TRL would stop on it: {stops[sample.id]}")
        record = to_trl_record(sample, layout=layout)
        if "tools" in record:  # JSON text: TRL parses it back, keys in their order (module doc)
            record["tools"] = json.dumps(record["tools"], ensure_ascii=False)
        return record

    train, evals, rejected = split_records(job, dump)
    files = [job.add_jsonl("data/train.jsonl", train)]
    data_files = {"train": "data/train.jsonl"}
    if job.eval:
        files.append(job.add_jsonl("data/validation.jsonl", evals))
        data_files["validation"] = "data/validation.jsonl"
    if "chat_template_path" in written:
        files.append(job.add_text(TEMPLATE_FILE, decided.source))
    out = f"trl-sft/{job.name}"
    script = "train_trl.py"
    option_lines = []
    for key, value in written.items():
        comment = _OPTION_COMMENTS.get(key)
        line = f"    {key}={_python_value(key, value)},"
        option_lines.append(line + (f"  # {comment}" if comment else ""))
    text = _TRL_SCRIPT.format(
        script=script,
        data_files=json.dumps(data_files),
        out=out,
        options="\n".join(option_lines),
        model=job.model,
        eval_args='\n    eval_strategy="steps",\n    eval_steps=500,' if job.eval else "",
        eval_dataset='dataset["validation"]' if job.eval else "None",
    )
    files.append(job.add_text(script, text))
    cli = [
        ["trl", "sft"],
        ["--model_name_or_path", job.model],
        ["--dataset_name", "data"],  # a folder: its train.jsonl and validation.jsonl are splits
    ]
    cli += [[f"--{key}", str(value)] for key, value in written.items()]
    cli += [
        ["--bf16", "$BF16"],
        ["--report_to", "none"],
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
    cli.append(["$@"])  # more trl sft arguments, e.g. bash train_trl.sh --max_steps 10
    sh = shell_script(cli, preamble=_SH_PREAMBLE)
    files.append(job.add_text("train_trl.sh", sh, executable=True))
    return ExportResult(
        "trl",
        files,
        job.cd_command(f"python {script}"),
        notes=notes,
        rejected=rejected,
        readme=_readme(job, written, layout, marked=decided.source.startswith(MARKED_BY)),
    )


def _readme(job: ExportJob, written: dict[str, Any], layout: str, *, marked: bool) -> list[str]:
    opts = [
        f"--option {k}={str(v).lower() if isinstance(v, bool) else v}"
        for k, v in written.items()
        if k != "max_length"
    ]
    if layout != "messages":
        opts.append(f"--option layout={layout}")
    check = (
        f"sftforge tokenize DATA out.parquet --tokenizer MODEL --profile trl --max-len "
        f"{job.max_length} " + " ".join(opts)
    )
    paragraphs = [
        "The machine needs torch, `trl` (1.16 was checked) and `peft`; `train_trl.py` and "
        "`train_trl.sh` (the same run as a `trl sft` command) both choose the precision at "
        "start: bf16 on a GPU that has it, 32-bit on a CPU or an older GPU. Nothing is reported "
        "anywhere (`report_to=none`, hub telemetry off).",
        "The same tokens as TRL's, to look at before training (from inside this folder):\n\n"
        f"```bash\n{check}\n```",
    ]
    if "chat_template_path" in written:
        paragraphs.append(
            f"`{TEMPLATE_FILE}` is the chat template TRL renders with (`chat_template_path`)"
            + (
                ": the template with `{% generation %}` marks added around the assistant's "
                "turns, which TRL's `assistant_only_loss` needs; it renders the same text."
                if marked
                else "."
            )
        )
    return paragraphs
