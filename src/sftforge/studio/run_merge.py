"""A finished recipe run's output and rejects -> the rows of a new version, with their lineage.

Every input row carries ``meta["source"] == "version"`` and ``meta["row"]`` (its position in the
version, 1-based: the pipeline's own tags), so each output sample is matched to the row it came
from:

- **unchanged** (the same sample once the pipeline's bookkeeping is taken off: ``source``,
  ``row``, ``stats_fp`` and the metrics filters added to ``meta["stats"]``): the row is kept
  exactly as it was, lineage and review state included;
- **changed**: the new sample, ``made_by = "<operator>@<job id>"``. The operator is found by what
  changed: an LLM step that wrote the answer (``meta.llm`` and ``meta.generator`` new: the row's
  ``model`` and ``prompt`` become that call's, and its review state starts again, unverified),
  the judge (``meta.judge`` new: the score column takes ``judge_overall``), else the mappers of
  the recipe replayed one by one on the old sample (those that change it are named, ``a+b``);
- **new** (an operator added it: ``meta["extra"]``, e.g. evol_instruct, paraphrase,
  self_instruct, respond's extra candidates): a new row, ``src = "run <job id>"`` and its line in
  the output, ``made_by`` the operator, model and prompt from its ``meta.llm``.

With ``keep_human`` (the studio's "suggest" generation), a row a person answered keeps that
answer, and the model's conversation is stored beside it as ``meta["suggestion"]`` (with the
model as ``agent``): what the review workflow shows and the export policy chooses from
(``review_policy``).

Rejected input rows are left out of the version and listed, with the row's id, in the run's
rejects file. A row an LLM step could not process (``llm failed: ...``: an error, a refusal, a
budget stop) is not a verdict on the row: it stays in the new version unchanged (after the
output's rows) and is counted as ``failed``; the rejects file lists it with
``"kept_in_version": true``. Nothing is lost: read = kept + rejected + failed, checked.

A step that adds samples (``run_spec.ADDING_TASKS``: evol_instruct, paraphrase, self_instruct...)
rejects nothing when its calls for an item fail: the input row passes through unchanged, or
the item was no row (a seed, a document). Its failed file's items follow in the rejects file
(``op`` the step, ``reason`` ``llm failed: ...``, the row's id and ``"kept_in_version": true``
when the item was a row), counted as ``not_generated``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from ..errors import SftforgeError
from ..ops.base import FINGERPRINTS, Mapper, Op
from ..sample import Sample
from .review_policy import SUGGESTION_KEY
from .run_spec import INPUT_NAME, LLM_TASKS
from .versions import VersionWriter, read_rows, row_from_sample

__all__ = ["MergeCounts", "merge_run"]

_BATCH = 4096
_ADDED_KEYS = ("extra", "copy_of")  # the pipeline's marks of a sample an operator added
_SCORE_KEY = "judge_overall"


@dataclass
class MergeCounts:
    """What a run did to the version: rows read, kept (``changed`` of them), rejected, failed
    (kept unchanged), added (new rows), added_rejected (new samples a rule dropped),
    not_generated (items an adding step failed to make anything of); by operator."""

    read: int = 0
    kept: int = 0
    changed: int = 0
    rejected: int = 0
    failed: int = 0
    added: int = 0
    added_rejected: int = 0
    not_generated: int = 0  # items an adding step's calls failed for (see the module docstring)
    rows: int = 0
    by_operator: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read, "kept": self.kept, "changed": self.changed,
            "rejected": self.rejected, "failed": self.failed, "added": self.added,
            "added_rejected": self.added_rejected, "not_generated": self.not_generated,
            "rows": self.rows,
            "by_operator": dict(self.by_operator),
        }  # fmt: skip


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, line


def _input_index(meta: dict[str, Any], n: int) -> int | None:
    """The version row a sample came from (0-based), or None for a sample an operator added."""
    if any(meta.get(k) is not None for k in _ADDED_KEYS) or meta.get("source") != INPUT_NAME:
        return None
    row = meta.get("row")
    return row - 1 if type(row) is int and 1 <= row <= n else None


def _restore_meta(meta: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the pipeline's tags replaced by what the old sample had there."""
    out = {k: v for k, v in meta.items() if k not in ("source", "row", FINGERPRINTS)}
    for key in ("source", "row"):
        if key in old:
            out[key] = old[key]
    return out


def _without_new_metrics(sample: Sample, old: Sample) -> Sample:
    """``sample`` without the metrics filters added to ``meta["stats"]`` (bookkeeping)."""
    stats = sample.meta.get("stats")
    if not isinstance(stats, dict):
        return sample
    found = old.meta.get("stats")
    old_stats: dict[str, Any] = found if isinstance(found, dict) else {}
    kept = {k: v for k, v in stats.items() if k in old_stats}
    meta = dict(sample.meta)
    if kept or "stats" in old.meta:
        meta["stats"] = kept
    else:
        meta.pop("stats")
    return Sample.from_dict({**sample.to_dict(), "meta": meta})


def _content(sample: Sample) -> dict[str, Any]:
    d = sample.to_dict()
    d.pop("meta", None)
    return d


def _mappers_that_change(old: Sample, mappers: list[Mapper]) -> list[str]:
    """The mappers of the recipe that change ``old``'s content, replayed in order."""
    names: list[str] = []
    current = copy.deepcopy(old)
    for op in mappers:
        before = _content(current)
        try:
            current = op.map(current)
        except Exception:  # an operator that needs the pipeline around it: not attributable
            continue
        if _content(current) != before:
            names.append(op.name)
    return names


class _Merger:
    def __init__(
        self, path: Path, writer: VersionWriter, job_id: str, ops: list[Op], keep_human: bool
    ) -> None:
        # only the ids are held; whole rows are read a batch at a time, by their row groups
        self.path = path
        self.row_ids = pq.read_table(str(path), columns=["row_id"], memory_map=True)["row_id"]
        self.writer = writer
        self.job_id = job_id
        self.mappers = [op for op in ops if isinstance(op, Mapper)]
        self.step_names = [op.name for op in ops]
        self.keep_human = keep_human
        self.n = len(self.row_ids)
        self.used = bytearray(self.n)
        self.ids: set[str] = set()
        self.counts = MergeCounts(read=self.n)

    def _made_by(self, op: str) -> str:
        self.counts.by_operator[op] = self.counts.by_operator.get(op, 0) + 1
        return f"{op}@{self.job_id}"

    def _unique(self, base: str) -> str:
        row_id, k = base, 1
        while row_id in self.ids:
            k += 1
            row_id = f"{base}#{self.job_id}.{k}"
        self.ids.add(row_id)
        return row_id

    def output(self, path: Path) -> None:
        pending: list[tuple[int, int | None, Sample]] = []
        for line_no, line in _lines(path):
            sample = Sample.from_json(line)
            pending.append((line_no, _input_index(sample.meta, self.n), sample))
            if len(pending) >= _BATCH:
                self._flush(pending)
                pending = []
        self._flush(pending)

    def _flush(self, pending: list[tuple[int, int | None, Sample]]) -> None:
        wanted = [i for _, i, _ in pending if i is not None and not self.used[i]]
        olds = dict(zip(wanted, read_rows(self.path, wanted), strict=True))
        for line_no, index, sample in pending:
            if index is not None and not self.used[index]:
                self.used[index] = 1
                self._kept(olds[index], sample)
            else:
                self._added(line_no, sample)

    def _kept(self, old_row: dict[str, Any], sample: Sample) -> None:
        self.counts.kept += 1
        old = Sample.from_json(old_row["sample"])
        new = Sample.from_dict({**sample.to_dict(), "meta": _restore_meta(sample.meta, old.meta)})
        if _without_new_metrics(new, old).to_dict() == old.to_dict():
            self.ids.add(old_row["row_id"])
            self.writer.add(old_row)  # unchanged: lineage and review state as they were
            return
        self.counts.changed += 1
        wrote = new.meta.get("generator") and new.meta.get("llm") != old.meta.get("llm")
        scored = new.meta.get("judge") != old.meta.get("judge")
        if wrote:
            op = str(new.meta["generator"])
        elif scored:
            op = "judge"
        else:
            op = "+".join(_mappers_that_change(old, self.mappers)) or "+".join(self.step_names)
        human = (
            wrote
            and self.keep_human
            and old_row["model"] is None
            and bool(old.messages)
            and old.messages[-1].role == "assistant"
            and bool(old.messages[-1].content.strip())
        )
        stored = new
        if human:  # the person's answer stays; the model's goes beside it (review_policy)
            given = new.meta.get("llm")
            llm: dict[str, Any] = given if isinstance(given, dict) else {}
            suggestion = {
                "messages": [m.to_dict() for m in new.messages],
                "agent": llm.get("model"),
            }
            meta = {**old.meta, SUGGESTION_KEY: suggestion, "llm": llm}
            stored = Sample.from_dict({**old.to_dict(), "meta": meta})
        row = row_from_sample(
            stored, old_row["row_id"], src=old_row["src"], src_line=old_row["src_line"],
            made_by=self._made_by(op),
        )  # fmt: skip
        for key in (
            "edited_by",
            "edited_at",
            "tags",
            "status",
            "reason",
            "human_verified",
            "score",
        ):
            row[key] = old_row[key]
        if not wrote:  # the answer is the one it was: so is who wrote it
            row["model"], row["prompt"] = old_row["model"], old_row["prompt"]
        elif not human:  # a new answer nobody has checked yet
            row["status"], row["reason"], row["human_verified"] = "", None, False
        score = (new.meta.get("stats") or {}).get(_SCORE_KEY) if scored else None
        if isinstance(score, int | float) and not isinstance(score, bool):
            row["score"] = float(score)
        self.ids.add(row["row_id"])
        self.writer.add(row)

    def _added(self, line_no: int, sample: Sample) -> None:
        self.counts.added += 1
        meta = dict(sample.meta)
        op = str(meta.get("extra") or meta.get("generator") or "+".join(self.step_names))
        for key in (*_ADDED_KEYS, FINGERPRINTS):
            meta.pop(key, None)
        if meta.get("source") == INPUT_NAME:  # a copy of an input row's tags: not its own
            meta.pop("source", None)
            meta.pop("row", None)
        clean = Sample.from_dict({**sample.to_dict(), "meta": meta})
        row = row_from_sample(
            clean, self._unique(clean.id), src=f"run {self.job_id}", src_line=line_no,
            made_by=self._made_by(op),
        )  # fmt: skip
        self.writer.add(row)

    def rejects(self, path: Path, kept_path: Path) -> None:
        """The run's rejects with each input row's id; an LLM failure's row back in the version."""
        restored: list[int] = []
        with open(kept_path, "wb") as out:
            for _, line in _lines(path) if path.is_file() else iter(()):
                rec = orjson.loads(line)
                meta = (rec.get("sample") or {}).get("meta") or {}
                index = _input_index(meta, self.n)
                failed = (
                    rec.get("op") in LLM_TASKS
                    and str(rec.get("reason", "")).startswith("llm failed")
                    and index is not None
                    and not self.used[index]
                )
                if index is None:
                    self.counts.added_rejected += 1
                    rec["row_id"] = None
                else:
                    rec["row_id"] = self.row_ids[index].as_py()
                    if failed:
                        self.used[index] = 1
                        restored.append(index)
                        self.counts.failed += 1
                    else:
                        self.counts.rejected += 1
                rec["kept_in_version"] = bool(failed)
                twin = rec.get("kept")  # a dedup's kept twin, by the pipeline's locator
                if isinstance(twin, dict):
                    at = _input_index(twin, self.n)
                    rec["kept_row_id"] = None if at is None else self.row_ids[at].as_py()
                out.write(orjson.dumps(rec) + b"\n")
        for start in range(0, len(restored), _BATCH):
            part = restored[start : start + _BATCH]
            for old_row in read_rows(self.path, part):
                self.ids.add(old_row["row_id"])
                self.writer.add(old_row)


def _failed_items(merger: _Merger, failed_files: list[tuple[str, Path]], kept_path: Path) -> None:
    """The adding steps' failed items, after the rejects (see the module docstring)."""
    with open(kept_path, "ab") as out:
        for op, path in failed_files:
            for _, line in _lines(path) if path.is_file() else iter(()):
                rec = orjson.loads(line)
                item = rec.get("input")
                meta = (item.get("meta") if isinstance(item, dict) else None) or {}
                index = _input_index(meta, merger.n) if isinstance(meta, dict) else None
                merger.counts.not_generated += 1
                entry = {
                    "op": op,
                    "reason": f"llm failed: {rec.get('reason')}",
                    "sample": item,
                    "row_id": None if index is None else merger.row_ids[index].as_py(),
                    "kept_in_version": index is not None,  # the row passed through unchanged
                }
                out.write(orjson.dumps(entry) + b"\n")


def merge_run(
    version_path: str | Path,
    output_path: Path,
    rejects_path: Path,
    kept_rejects_path: Path,
    writer: VersionWriter,
    *,
    job_id: str,
    ops: list[Op],
    keep_human: bool = False,
    failed_files: list[tuple[str, Path]] | None = None,
) -> MergeCounts:
    """Write the new version's rows into ``writer`` (see the module docstring); the run's
    rejects, each with its row id, go to ``kept_rejects_path``, then the items of
    ``failed_files`` (an adding step's name and its failed file)."""
    merger = _Merger(Path(version_path), writer, job_id, ops, keep_human)
    merger.output(output_path)
    merger.rejects(rejects_path, kept_rejects_path)
    _failed_items(merger, failed_files or [], kept_rejects_path)
    c = merger.counts
    if c.kept + c.rejected + c.failed != c.read:
        raise SftforgeError(
            f"the run lost rows: read {c.read} != kept {c.kept} + rejected {c.rejected}"
            f" + failed {c.failed}.",
            hint="this is a bug in an operator (or the studio); please report it with the recipe",
        )
    return c
