"""Trainer hand-off: data in the form each framework reads, plus its config and command.

``export_samples(train, "llamafactory", outdir, eval_samples=val, name="faq", model=...,
template=...)`` writes the files and returns an :class:`ExportResult`; samples a framework cannot
take are listed in ``rejected`` (and written to ``rejects.jsonl``), never dropped silently. The
folder's configs use relative paths (it can be copied to the training machine) and use the eval
split where one is given; files already in the folder are only replaced with ``force``. See
docs/trainers.md.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import SftforgeError
from ..formats import LossLog
from ..formats._common import FIELDS, has_values
from ..sample import Sample
from .common import ExportJob, ExportResult, commit, safe_name
from .readme import readme

__all__ = ["FRAMEWORKS", "ExportJob", "ExportResult", "export_samples", "local_model"]

FRAMEWORKS: tuple[str, ...] = ("llamafactory", "xtuner", "swift", "axolotl", "litgpt", "trl")


def _trainer_module(framework: str) -> Any:
    """``export/<framework>.py``: its ``export_<framework>(job)`` writes the files, its
    ``profile_settings(job)`` says what the config stands for in profile terms."""
    return importlib.import_module(f"{__name__}.{framework}")


def export_samples(
    samples: list[Sample],
    framework: str,
    outdir: Path,
    *,
    eval_samples: list[Sample] | None = None,
    name: str = "sftforge",
    model: str = "PATH/TO/MODEL",
    template: str | None = None,
    max_length: int = 2048,
    allow_lossy: bool = False,
    force: bool = False,
    tokenizer: str | None = None,
    options: dict[str, Any] | None = None,
) -> ExportResult:
    """Write ``samples`` (and ``eval_samples``) for ``framework`` into ``outdir`` with its config,
    command and a README. ``tokenizer`` (default: ``model`` when it is a local folder) is the
    model's tokenizer, for the template decision; ``options`` are trainer options by the trainer's
    own names (the ones ``tokenize --profile`` takes), written into the config."""
    if framework not in FRAMEWORKS:
        raise SftforgeError(
            f"unknown framework '{framework}'", hint=f"use one of: {', '.join(FRAMEWORKS)}"
        )
    job = ExportJob(
        outdir=Path(outdir),
        train=samples,
        eval=list(eval_samples or []),
        name=safe_name(name),
        model=model,
        template=template,
        max_length=max_length,
        loss=LossLog(allow=allow_lossy),
        tokenizer=tokenizer if tokenizer is not None else local_model(model),
        options=dict(options or {}),
    )
    module = _trainer_module(framework)
    result: ExportResult = getattr(module, f"export_{framework}")(job)
    result.profile = module.profile_settings(job)
    result.tokenizer = job.tokenizer
    if framework in ("llamafactory", "xtuner"):
        # their records are built here, not by a format, and hold only what the trainer reads:
        # the kept fields and turn keys are left out, and said so
        every = [*job.train, *job.eval]
        fields = sum(1 for s in every if has_values(s.meta.get(FIELDS)))
        turns = sum(1 for s in every if any(has_values(m.extra) for m in s.messages))
        result.notes += [f"left out extra fields of {fields} samples"] * bool(fields)
        result.notes += [f"left out extra turn fields of {turns} samples"] * bool(turns)
    if job.loss.counts:
        result.notes += [f"dropped {what} from {n} samples" for what, n in job.loss.counts.items()]
    if result.rejected:
        evals = {s.id for s in job.eval}
        rows = [
            {
                "id": i,
                "op": f"export:{framework}",
                "reason": r,
                "split": "eval" if i in evals else "train",
            }
            for i, r in result.rejected
        ]
        result.files.append(job.add_jsonl("rejects.jsonl", rows))
    result.files.append(job.add_text("README.md", readme(job, result)))
    commit(job, force=force)
    return result


def local_model(model: str) -> str | None:
    """``model`` when it is a local folder holding a tokenizer (its template can be read)."""
    path = Path(model).expanduser()
    found = path.is_dir() and any(
        (path / f).is_file() for f in ("tokenizer_config.json", "tokenizer.json")
    )
    return str(path) if found else None
