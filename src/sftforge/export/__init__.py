"""Trainer hand-off: data in the form each framework reads, plus its config and command.

``export_samples(samples, "llamafactory", outdir, model=..., template=...)`` writes the files and
returns an :class:`ExportResult`; samples a framework cannot take are listed in ``rejected`` (and
written to ``rejects.jsonl``), never dropped silently. See docs/trainers.md.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SftforgeError
from ..formats import LossLog
from ..formats._common import FIELDS, has_values
from ..sample import Sample
from .common import ExportResult, write_jsonl

__all__ = ["FRAMEWORKS", "ExportResult", "export_samples"]

FRAMEWORKS: tuple[str, ...] = ("llamafactory", "xtuner", "swift", "axolotl", "litgpt", "trl")


def export_samples(
    samples: list[Sample],
    framework: str,
    outdir: Path,
    *,
    model: str = "PATH/TO/MODEL",
    template: str | None = None,
    max_length: int = 2048,
    allow_lossy: bool = False,
) -> ExportResult:
    if framework not in FRAMEWORKS:
        raise SftforgeError(
            f"unknown framework '{framework}'", hint=f"use one of: {', '.join(FRAMEWORKS)}"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    loss = LossLog(allow=allow_lossy)
    if framework == "llamafactory":
        from .llamafactory import export_llamafactory

        result = export_llamafactory(
            samples, outdir, model=model, template=template, cutoff_len=max_length
        )
    elif framework == "xtuner":
        from .xtuner import export_xtuner

        result = export_xtuner(
            samples, outdir, model=model, template=template, max_length=max_length
        )
    else:
        from . import simple

        fn = getattr(simple, f"export_{framework}")
        result = fn(
            samples, outdir, model=model, template=template, max_length=max_length, loss=loss
        )
    if framework in ("llamafactory", "xtuner"):
        # their records are built here, not by a format, and hold only what the trainer reads:
        # the kept fields and turn keys are left out, and said so
        fields = sum(1 for s in samples if has_values(s.meta.get(FIELDS)))
        turns = sum(1 for s in samples if any(has_values(m.extra) for m in s.messages))
        result.notes += [f"left out extra fields of {fields} samples"] * bool(fields)
        result.notes += [f"left out extra turn fields of {turns} samples"] * bool(turns)
    if loss.counts:
        result.notes += [f"dropped {what} from {n} samples" for what, n in loss.counts.items()]
    if result.rejected:
        rows = [{"id": i, "op": f"export:{framework}", "reason": r} for i, r in result.rejected]
        write_jsonl(outdir / "rejects.jsonl", rows)
        result.files.append(outdir / "rejects.jsonl")
    return result
