"""``sftforge train --with llamafactory|swift|xtuner``: hand the run over to another trainer.

The data is exported with ``sftforge.export`` (the same files ``sftforge export`` writes) into
``<output>/handoff/<framework>/``, the run's settings are written into that trainer's config by its
own names (learning rate, epochs or steps, batch, accumulation, LoRA rank/alpha/dropout, max
length, seed, eval and save cadence), and the trainer's own command runs there. While it runs,
its log is read every few seconds into ``<output>/train_log.jsonl`` and the loss chart, the same
files an in-process run writes:

- LLaMA-Factory: ``trainer_log.jsonl`` (``current_steps``, ``loss``, ``lr``, ``eval_loss``);
- ms-swift: ``logging.jsonl`` (``global_step/max_steps``, ``loss``, ``learning_rate``,
  ``grad_norm``, ``memory(GiB)``, ``eval_loss``);
- XTuner: mmengine's ``vis_data/scalars.json`` (``step``, ``loss``, ``lr``, ``memory`` in MB).

When the trainer's command is not on PATH, one line says how to install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..errors import InputError, SftforgeError
from .config import TrainConfig
from .log import TrainLog, read_log

__all__ = ["HANDOFFS", "hand_over", "parse_trainer_log", "trainer_settings"]

# framework -> (executable, install line, the log file's name pattern under the export folder)
HANDOFFS: dict[str, tuple[str, str, str]] = {
    "llamafactory": (
        "llamafactory-cli",
        "pip install llamafactory  (see https://github.com/hiyouga/LLaMA-Factory)",
        "trainer_log.jsonl",
    ),
    "swift": ("swift", "pip install ms-swift", "logging.jsonl"),
    "xtuner": (
        "xtuner",
        "pip install xtuner  (XTuner 0.2 needs transformers 4.48)",
        "scalars.json",
    ),
}
_POLL_SECONDS = 2.0


def trainer_settings(config: TrainConfig, framework: str) -> dict[str, Any]:
    """The run's settings by ``framework``'s own names."""
    if framework == "llamafactory":
        out: dict[str, Any] = {
            "finetuning_type": "full" if config.method == "full" else "lora",
            "learning_rate": config.lr,
            "lr_scheduler_type": config.scheduler,
            "num_train_epochs": config.epochs,
            "per_device_train_batch_size": config.batch_size,
            "gradient_accumulation_steps": config.grad_accum,
            "cutoff_len": config.max_len,
            "seed": config.seed,
            "logging_steps": config.log_every,
            "save_steps": config.save_every,
            "eval_steps": config.eval_every,
            "max_grad_norm": config.max_grad_norm,
            "weight_decay": config.weight_decay,
            # LLaMA-Factory checkpoints activations unless told not to
            "disable_gradient_checkpointing": not config.gradient_checkpointing,
            "packing": config.packing,
            "val_size": config.val_ratio,
        }
        out["warmup_ratio" if config.warmup < 1 else "warmup_steps"] = config.warmup
        if config.precision in ("bf16", "fp16"):  # auto and fp32: LLaMA-Factory's own choice
            out[config.precision] = True
        if config.max_steps is not None:
            out["max_steps"] = config.max_steps
        if config.method != "full":
            out |= {
                "lora_rank": config.lora_r,
                "lora_alpha": config.lora_alpha,
                "lora_dropout": config.lora_dropout,
                "lora_target": "all"
                if config.target_modules == ["all-linear"]
                else ",".join(config.target_modules),
            }
        if config.method == "qlora":
            out["quantization_bit"] = 4
        return out
    if framework == "swift":
        out = {
            "tuner_type": "full" if config.method == "full" else "lora",
            "learning_rate": config.lr,
            "num_train_epochs": config.epochs,
            "per_device_train_batch_size": config.batch_size,
            "gradient_accumulation_steps": config.grad_accum,
            "max_length": config.max_len,
            "lora_rank": config.lora_r,
            "lora_alpha": config.lora_alpha,
            "lora_dropout": config.lora_dropout,
            "target_modules": " ".join(config.target_modules),
            "seed": config.seed,
            "logging_steps": config.log_every,
            "save_steps": config.save_every,
            "eval_steps": config.eval_every,
            "val_size": config.val_ratio,
        }
        if config.max_steps is not None:
            out["max_steps"] = config.max_steps
        if config.method == "qlora":
            out |= {"quant_method": "bnb", "quant_bits": 4}
        return out
    if framework == "xtuner":
        return {
            "batch_size": config.batch_size,
            "accumulative_counts": config.grad_accum,
            "max_epochs": max(1, round(config.epochs)),
            "lr": config.lr,
            "weight_decay": config.weight_decay,
            "max_norm": config.max_grad_norm,
            "warmup_ratio": config.warmup if config.warmup < 1 else 0.03,
            "save_steps": config.save_every,
            "evaluation_freq": config.eval_every,
        }
    raise InputError(
        f"cannot hand over to '{framework}'.",
        field="with",
        hint=f"use one of: {', '.join(HANDOFFS)}",
    )


# -- the trainers' logs ------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    """A number, also one written as a string (ms-swift logs ``"loss": "5.998"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _llamafactory_record(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": obj.get("current_steps"),
        "epoch": _num(obj.get("epoch")),
        "loss": _num(obj.get("loss")),
        "eval_loss": _num(obj.get("eval_loss")),
        "lr": _num(obj.get("lr")),
    }


def _swift_record(obj: dict[str, Any]) -> dict[str, Any]:
    step = str(obj.get("global_step/max_steps", "")).partition("/")[0]
    memory = _num(obj.get("memory(GiB)"))
    return {
        "step": int(step) if step.isdigit() else None,
        "epoch": _num(obj.get("epoch")),
        "loss": _num(obj.get("loss")),
        "eval_loss": _num(obj.get("eval_loss")),
        "lr": _num(obj.get("learning_rate")),
        "grad_norm": _num(obj.get("grad_norm")),
        "memory_mb": round(memory * 1024, 1) if memory is not None else None,
    }


def _xtuner_record(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": obj.get("step") if "loss" in obj else None,
        "loss": _num(obj.get("loss")),
        "lr": _num(obj.get("lr")),
        "grad_norm": _num(obj.get("grad_norm")),
        "memory_mb": _num(obj.get("memory")),
    }


_PARSERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "llamafactory": _llamafactory_record,
    "swift": _swift_record,
    "xtuner": _xtuner_record,
}


def parse_trainer_log(framework: str, lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The records of a trainer's JSON-lines log in the training log's keys; an eval record is
    folded into the train record of its step. Lines that are not a step's record are skipped."""
    parse = _PARSERS[framework]
    by_step: dict[int, dict[str, Any]] = {}
    for line in lines:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line being written
        if not isinstance(obj, dict):
            continue
        rec = {k: v for k, v in parse(obj).items() if v is not None}
        step = rec.get("step")
        if not isinstance(step, int) or len(rec) == 1:
            continue
        by_step.setdefault(step, {}).update(rec)
    return [by_step[s] for s in sorted(by_step)]


def _find_log(folder: Path, framework: str) -> Path | None:
    name = HANDOFFS[framework][2]
    found = sorted(folder.rglob(name), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


# -- the hand-over -----------------------------------------------------------------------------------
def _export(
    config: TrainConfig, framework: str, folder: Path, options: dict[str, Any]
) -> tuple[Any, int]:
    """The export's result and the number of records that could not be read."""
    from ..chat.inputs import read_samples
    from ..export import export_samples

    src = Path(config.data)
    if src.suffix.lower() in (".parquet", ".pq"):
        raise InputError(
            "a hand-over exports samples, and a tokenize Parquet holds token ids only.",
            file=str(src),
            hint="pass the dataset file (or the run folder) the Parquet was made from",
        )
    train_path, val_path = src, None
    if src.is_dir():
        from .data import VALIDATION_SPLITS

        report = (
            orjson.loads((src / "report.json").read_bytes())
            if (src / "report.json").is_file()
            else {}
        )
        outputs = report.get("outputs") or {}
        if "train" not in outputs:
            raise InputError(f"'{src}' is not a run folder with a 'train' output.", file=str(src))
        train_path = src / outputs["train"]["path"]
        val_path = next((src / outputs[s]["path"] for s in VALIDATION_SPLITS if s in outputs), None)
    # records that cannot be read go to <output>/rejects.jsonl with file, line and reason, as in
    # an in-process run; the trainer gets the rest
    unread: list[dict[str, Any]] = []
    train = list(read_samples(train_path, on_error="skip", rejects=unread.append))
    evals = (
        list(read_samples(val_path, on_error="skip", rejects=unread.append))
        if val_path is not None
        else None
    )
    rejects = Path(config.output) / "rejects.jsonl"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    rejects.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in unread))
    if not train:
        raise InputError(
            f"no sample of '{train_path}' could be read ({len(unread)} rejected).",
            file=str(train_path),
            hint=f"see {rejects}",
        )
    result = export_samples(
        train,
        framework,
        folder,
        eval_samples=evals,
        name="train",
        model=str(Path(config.model).resolve()),
        template=config.template,
        max_length=config.max_len,
        force=True,
        options=options,
    )
    return result, len(unread)


def _apply_settings(framework: str, folder: Path, settings: dict[str, Any]) -> list[str]:
    """Write ``settings`` into the exported config; returns the command (argv) to run."""
    if framework == "llamafactory":
        from ..export.llamafactory import CONFIG

        path = folder / CONFIG
        conf = yaml.safe_load(path.read_text(encoding="utf-8"))
        conf |= settings
        if "eval_dataset" not in conf and settings.get("val_size"):
            # no validation split: LLaMA-Factory holds out the same fraction an in-process run does
            conf |= {
                "eval_strategy": "steps",
                "per_device_eval_batch_size": conf["per_device_train_batch_size"],
            }
        elif "eval_dataset" not in conf:
            conf.pop("eval_steps", None)
        if "eval_dataset" in conf:
            conf.pop("val_size", None)
        conf["output_dir"] = "saves/train"
        target = folder / "sftforge_train.yaml"
        target.write_text(
            yaml.safe_dump(conf, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        return ["llamafactory-cli", "train", target.name]
    if framework == "swift":
        script = folder / "train_swift.sh"
        text = script.read_text(encoding="utf-8")
        if "--val_dataset" not in text:  # no validation split: hold out as an in-process run does
            settings = dict(settings)
            settings["split_dataset_ratio"] = settings.pop("val_size")
        else:
            settings = {k: v for k, v in settings.items() if k != "val_size"}
        for key, value in settings.items():
            pattern = re.compile(rf"(--{re.escape(key)}) \S+")
            text, n = pattern.subn(_replacement(value), text, count=1)
            if n == 0:  # not in the export's script: add it before the output folder
                text = text.replace("--output_dir ", f"--{key} {value} \\\n    --output_dir ", 1)
        script.write_text(text, encoding="utf-8")
        return ["bash", script.name]
    from ..export.xtuner import CONFIG_NAME

    return ["xtuner", "train", CONFIG_NAME, "--work-dir", "work_dirs/train"]


def _replacement(value: Any) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)} {value}"

    return replace


def hand_over(
    config: TrainConfig,
    framework: str,
    *,
    dry_run: bool = False,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Export, configure and run ``framework`` on ``config``; returns what was done (the
    command, the export folder, the log). ``dry_run``: export and configure, run nothing."""
    from .chart import write_charts

    tell = say or (lambda _msg: None)
    if framework not in HANDOFFS:
        raise InputError(
            f"cannot hand over to '{framework}'.",
            field="with",
            hint=f"use one of: {', '.join(HANDOFFS)}",
        )
    executable, install, _ = HANDOFFS[framework]
    found = shutil.which(executable)
    if found is None and not dry_run:
        raise SftforgeError(
            f"{framework} is not installed here ('{executable}' is not on PATH).", hint=install
        )
    if framework == "xtuner" and config.method == "full":
        raise InputError(
            "the XTuner export trains LoRA (QLoRA on a GPU), so --method full cannot be handed "
            "over to it.",
            field="method",
            hint="hand full fine-tuning over to llamafactory or swift, or train in-process",
        )
    if framework == "xtuner":
        tell("note: XTuner's config trains QLoRA on a GPU and float32 LoRA on a CPU (its recipe)")
    out = Path(config.output)
    folder = out / "handoff" / framework
    settings = trainer_settings(config, framework)
    result, unread = _export(config, framework, folder, settings if framework == "xtuner" else {})
    if unread:
        tell(f"{unread} records could not be read: see {out / 'rejects.jsonl'}")
    for note in result.notes:
        tell(f"note: {note}")
    if result.rejected:
        tell(
            f"{len(result.rejected)} samples {framework} cannot take: see {folder / 'rejects.jsonl'}"
        )
    argv = _apply_settings(framework, folder, settings)
    log = TrainLog(out / "train_log.jsonl")
    log.reset()
    done: dict[str, Any] = {
        "framework": framework,
        "folder": str(folder),
        "command": argv,
        "log": str(log.path),
        "returncode": None,
    }
    if dry_run:
        return done
    tell(f"running {' '.join(argv)} in {folder}")
    title = f"{Path(config.model).name} · {framework} · {Path(config.data).name}"
    trainer_out = open(out / f"{framework}.log", "wb")  # noqa: SIM115 (closed below)
    try:
        proc = subprocess.Popen(argv, cwd=folder, stdout=trainer_out, stderr=subprocess.STDOUT)
        while True:
            finished = proc.poll() is not None
            _copy_log(framework, folder, log)
            write_charts(log.path, out, title=title, running=not finished)
            if finished:
                break
            time.sleep(_POLL_SECONDS)
    finally:
        trainer_out.close()
    done["returncode"] = proc.returncode
    if proc.returncode != 0:
        raise SftforgeError(
            f"{framework} stopped with exit code {proc.returncode}.",
            file=str(out / f"{framework}.log"),
            hint="its output is in that file",
        )
    if not read_log(log.path):
        # a trainer may exit 0 without training (XTuner prints its help when a command fails)
        raise SftforgeError(
            f"{framework} ended without logging a training step.",
            file=str(out / f"{framework}.log"),
            hint="its output in that file says why",
        )
    return done


def _copy_log(framework: str, folder: Path, log: TrainLog) -> None:
    source = _find_log(folder, framework)
    if source is None:
        return
    records = parse_trainer_log(framework, source.read_bytes().splitlines())
    log.reset()
    for record in records:
        log.write(record)
