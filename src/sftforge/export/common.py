"""What every trainer hand-off shares: the job (train and eval samples, name, options), the files
it plans, the overwrite check, and the result record.

A target (``llamafactory.py``, ``xtuner.py``, ``simple.py``) reads an :class:`ExportJob` and adds
the files it would write with :meth:`ExportJob.add` (paths relative to the export folder), so
nothing is written until every file is known: :func:`commit` then refuses to replace files that
are already there unless ``force`` (a second export into the same folder must not silently
replace the first), and writes each file atomically with the usual permissions (umask).

Paths inside configs and scripts are relative to the export folder, so the folder works when
copied to the training machine: YAML configs are meant to be run from inside the folder (the
command says ``cd``), scripts ``cd`` to their own folder first, Python configs build paths from
their own location.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..errors import SftforgeError
from ..formats import LossLog
from ..io.atomic import write_atomic
from ..sample import Sample

__all__ = [
    "ExportJob",
    "ExportResult",
    "ProfileSettings",
    "commit",
    "dataset_name",
    "dump_yaml",
    "records_for",
    "safe_name",
    "shell_script",
    "split_records",
    "write_json",
    "write_jsonl",
]

# file stems that name a split rather than a dataset: such a file is named after its folder
SPLIT_STEMS = frozenset({"train", "validation", "valid", "val", "eval", "dev", "test"})


@dataclass
class ProfileSettings:
    """The ``get_profile`` arguments that encode what an export's config makes its trainer do:
    ``get_profile(framework, tokenizer, template=s.template, max_length=s.max_length,
    **s.options)``. ``export --check`` and the hand-over bench run the profile with them."""

    template: str | None
    options: dict[str, Any]
    max_length: int | None


@dataclass
class ExportResult:
    """What an export wrote and the command that starts training on it."""

    framework: str
    files: list[Path]
    command: str
    notes: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (sample id, reason)
    # paragraphs for the folder's README.md: what the machine needs, steps before or after training
    readme: list[str] = field(default_factory=list)
    # the profile arguments the config stands for (``export --check`` encodes with them), and
    # the model's tokenizer the export decided with (--tokenizer, or --model when a local folder)
    profile: ProfileSettings | None = None
    tokenizer: str | None = None


@dataclass
class ExportJob:
    """One export: the samples of each split, the dataset name, the options, the planned files."""

    outdir: Path
    train: list[Sample]
    eval: list[Sample] = field(default_factory=list)
    name: str = "sftforge"
    model: str = "PATH/TO/MODEL"
    template: str | None = None
    max_length: int = 2048
    loss: LossLog = field(default_factory=LossLog)
    tokenizer: str | None = None  # the model's tokenizer, for the template decision
    options: dict[str, Any] = field(default_factory=dict)  # trainer options, the trainer's names
    # relative path -> (bytes, executable); written by ``commit``
    files: dict[str, tuple[bytes, bool]] = field(default_factory=dict)
    merged: set[str] = field(default_factory=set)  # files the target merged into (no conflict)
    conflicts: list[str] = field(default_factory=list)  # what a merge would replace

    def add(self, rel: str, data: bytes, *, executable: bool = False, merged: bool = False) -> Path:
        self.files[rel] = (data, executable)
        if merged:
            self.merged.add(rel)
        return self.outdir / rel

    def add_json(self, rel: str, value: Any, *, merged: bool = False) -> Path:
        return self.add(rel, orjson.dumps(value, option=orjson.OPT_INDENT_2), merged=merged)

    def add_jsonl(self, rel: str, rows: Iterable[Any]) -> Path:
        return self.add(rel, b"".join(orjson.dumps(r) + b"\n" for r in rows))

    def add_text(self, rel: str, text: str, *, executable: bool = False) -> Path:
        return self.add(rel, text.encode("utf-8"), executable=executable)

    def cd_command(self, command: str) -> str:
        """``command`` run from inside the export folder (configs hold relative paths)."""
        return f"cd {shlex.quote(str(self.outdir))} && {command}"


def dataset_name(path: Path, given: str | None = None) -> str:
    """The dataset's name: ``given``, else the input's file name without extensions, or its
    folder's name when that is a run folder or the file is named after a split
    (``runs/faq/train.jsonl`` -> ``faq``). Characters other than letters (CJK included), digits,
    ``_``, ``-`` and ``.`` become ``_``: the name is a file name and a config key."""
    if given is None:
        stem = path.name if path.is_dir() else path.name.split(".")[0]
        if not path.is_dir() and stem.lower() in SPLIT_STEMS:
            stem = path.resolve().parent.name
        given = stem
    return safe_name(given)


def safe_name(text: str) -> str:
    """``text`` as a dataset name that is also a plain file name (never a path)."""
    return re.sub(r"[^\w.-]", "_", text.strip()).strip("._") or "sftforge"


def commit(job: ExportJob, *, force: bool = False) -> list[Path]:
    """Write the planned files; without ``force``, refuse when any of them is already there."""
    taken = [rel for rel in job.files if rel not in job.merged and (job.outdir / rel).exists()]
    taken += job.conflicts
    stale = job.outdir / "rejects.jsonl"
    if "rejects.jsonl" not in job.files and stale.exists():
        taken.append("rejects.jsonl")  # the previous export's; it would no longer be true
    if taken and not force:
        shown = ", ".join(sorted(set(taken))[:6]) + (", ..." if len(set(taken)) > 6 else "")
        raise SftforgeError(
            f"the folder already holds an export ({shown}); nothing was written.",
            file=str(job.outdir),
            hint="pass --force to replace it, choose another folder, or export train and eval "
            "together (--train FILE --eval FILE, or the run folder)",
        )
    if force and "rejects.jsonl" not in job.files:
        stale.unlink(missing_ok=True)
    for rel, (data, executable) in job.files.items():
        path = job.outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, executable=executable)
    return [job.outdir / rel for rel in job.files]


def shell_script(lines: list[list[str]], preamble: Iterable[str] = ()) -> str:
    """A bash script that runs from its own folder (its paths are relative to it): the first list
    is the command, each next list one continued argument line. ``preamble`` lines run before the
    command; an argument written ``$NAME`` is a variable they set, passed as ``"$NAME"`` (and
    ``$@``: the script's own arguments, as ``"$@"``)."""

    def word(part: str) -> str:
        return f'"{part}"' if re.fullmatch(r"\$(@|[A-Z_][A-Z0-9_]*)", part) else shlex.quote(part)

    body = " \\\n    ".join(" ".join(word(p) for p in line) for line in lines)
    head = '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")"\n'
    return head + "".join(f"{line}\n" for line in preamble) + body + "\n"


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, orjson.dumps(value, option=orjson.OPT_INDENT_2))


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, b"".join(orjson.dumps(r) + b"\n" for r in rows))


def dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def records_for(
    samples: list[Sample], dump: Callable[[Sample, LossLog], Any], loss: LossLog
) -> tuple[list[Any], list[tuple[str, str]]]:
    """Dump every sample; one that the target cannot carry goes to the rejected list with why."""
    records, rejected = [], []
    for s in samples:
        try:
            records.append(dump(s, loss))
        except SftforgeError as exc:
            rejected.append((s.id, exc.message))
    return records, rejected


def split_records(
    job: ExportJob, dump: Callable[[Sample, LossLog], Any]
) -> tuple[list[Any], list[Any], list[tuple[str, str]]]:
    """(train records, eval records, rejected of both) of a job."""
    train, rejected = records_for(job.train, dump, job.loss)
    evals, rejected_eval = records_for(job.eval, dump, job.loss)
    return train, evals, rejected + rejected_eval
