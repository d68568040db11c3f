"""``inspect_file``: what is in a dataset file, without changing it.

Detected container/encoding/format (and how sure detection was), counts, roles, turns per
conversation, length histograms per role (in characters), empty turns, records that failed to
read (with file:line), a few examples, and the problems a recipe should fix (HTML, duplicates,
personal data, empty turns, language mix, untranslated answers, length outliers: see
``inspection_problems``) with the recipe steps that fix them. Reads the whole file once,
streaming.

When no format fits, the file is read with the column mapping proposed from its keys
(``sftforge.formats.columns_guess``) and the report says so (``proposed_columns``: the exact
``--columns`` value to pass), so a CSV with ``问题,答案`` headers is described, not refused.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .api import Reader
from .formats.base import Format
from .inspection_problems import CHECK_LIMIT, LANGUAGE_LIMIT, Problem, ProblemFinder, fix_steps_yaml
from .progress import track
from .sample import Document, Sample

__all__ = ["LENGTH_BUCKETS", "InspectReport", "inspect_file", "length_bucket"]

# upper bounds (exclusive) of the length buckets, in characters
LENGTH_BUCKETS: tuple[int, ...] = (1, 16, 64, 256, 1024, 4096, 16384)


def length_bucket(n: int) -> str:
    """The histogram bucket label for a text of ``n`` characters: ``0``, ``1-15``, ... ``16384+``."""
    low = 0
    for high in LENGTH_BUCKETS:
        if n < high:
            return str(low) if high - low == 1 else f"{low}-{high - 1}"
        low = high
    return f"{low}+"


@dataclass
class InspectReport:
    file: str
    format: str
    confidence: float
    container: str
    encoding: str | None
    compression: str | None
    read: int = 0
    ok: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    roles: Counter[str] = field(default_factory=Counter)
    turns: Counter[int] = field(default_factory=Counter)  # user turns per conversation
    lengths: dict[str, Counter[str]] = field(default_factory=dict)  # role -> bucket -> count
    empty: Counter[str] = field(default_factory=Counter)  # role -> empty turns
    features: Counter[str] = field(default_factory=Counter)  # system, tools, tool_calls, ...
    errors: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    columns: str | None = None  # the --columns value the file was read with
    proposed_columns: str | None = None  # the same, when it was proposed (detection failed)
    problems: list[Problem] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)  # prompt language -> records
    fix: str = ""  # the recipe steps that fix the problems, as YAML
    checked_problems: bool = False  # whether the problem checks ran

    def to_dict(self) -> dict[str, Any]:
        # built by hand: dataclasses.asdict rebuilds a Counter from (key, value) pairs and so
        # counts the pairs instead of copying the counts
        return {
            "file": self.file,
            "format": self.format,
            "confidence": self.confidence,
            "container": self.container,
            "encoding": self.encoding,
            "compression": self.compression,
            "read": self.read,
            "ok": self.ok,
            "rejected": self.rejected,
            "by_reason": dict(sorted(self.by_reason.items())),
            "roles": dict(sorted(self.roles.items())),
            "turns": {str(k): v for k, v in sorted(self.turns.items())},
            "lengths": {r: _ordered(c) for r, c in sorted(self.lengths.items())},
            "empty": dict(sorted(self.empty.items())),
            "features": dict(sorted(self.features.items())),
            "errors": list(self.errors),
            "examples": list(self.examples),
            "columns": self.columns,
            "proposed_columns": self.proposed_columns,
            "problems": [p.to_dict() for p in self.problems],
            "languages": dict(self.languages),
            "fix": self.fix,
        }


def _ordered(c: Counter[str]) -> dict[str, int]:
    order = [length_bucket(0)] + [length_bucket(b) for b in LENGTH_BUCKETS]
    return {k: c[k] for k in order if c.get(k)}


def _observe_sample(rep: InspectReport, s: Sample) -> None:
    rep.turns[sum(1 for m in s.messages if m.role == "user")] += 1
    for m in s.messages:
        rep.roles[m.role] += 1
        rep.lengths.setdefault(m.role, Counter())[length_bucket(len(m.content))] += 1
        if not m.content.strip() and not m.tool_calls:
            rep.empty[m.role] += 1
        if m.tool_calls:
            rep.features["tool_calls"] += 1
        if m.reasoning:
            rep.features["reasoning"] += 1
    if s.system is not None:
        rep.features["system"] += 1
    if s.tools:
        rep.features["tools"] += 1
    if s.rejected is not None:
        rep.features["preference"] += 1
    if s.label is not None:
        rep.features["label"] += 1
    if s.media:
        rep.features["media"] += 1


def inspect_file(
    path: str | os.PathLike[str],
    format: str | Format | None = None,
    *,
    examples: int = 3,
    errors: int = 20,
    problems: bool = True,
    check_limit: int = CHECK_LIMIT,
    **options: Any,
) -> InspectReport:
    """Read ``path`` once and describe it; bad records are counted and listed, never raised.
    ``problems`` looks for what a recipe should fix; the slower checks look at the first
    ``check_limit`` records.

    With neither ``format`` nor ``columns`` given, a file no format fits is read with the
    proposed column mapping (``columns="auto"``)."""
    if format is None and options.get("columns") is None:
        options["columns"] = "auto"
    with Reader(path, format, on_error="skip", **options) as reader:
        rep = InspectReport(
            file=reader.name,
            format=reader.format.name,
            confidence=reader.confidence,
            container=reader.source.container,
            encoding=reader.source.encoding,
            compression=reader.source.compression,
        )
        if reader.columns is not None:
            rep.columns = reader.columns.spec()
            if options["columns"] == "auto":
                rep.proposed_columns = rep.columns
        finder = ProblemFinder(check_limit, min(check_limit, LANGUAGE_LIMIT)) if problems else None
        for obj in track(reader, "inspect", sizes=reader.progress, line=True):
            if isinstance(obj, Document):
                rep.roles["document"] += 1
                rep.lengths.setdefault("document", Counter())[length_bucket(len(obj.text))] += 1
            else:
                _observe_sample(rep, obj)
                if finder is not None:
                    finder.add(obj, reader.stats.read)
            if len(rep.examples) < examples:
                rep.examples.append(obj.to_dict())
        rep.read, rep.ok, rep.rejected = reader.stats.read, reader.stats.ok, reader.stats.rejected
        rep.by_reason = dict(reader.stats.by_reason)
        rep.errors = [str(e) for e in reader.errors[:errors]]
    if finder is not None:
        rep.problems = finder.problems()
        rep.languages = finder.languages()
        rep.fix = fix_steps_yaml(rep.problems)
        rep.checked_problems = True
    return rep
