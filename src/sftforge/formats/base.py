"""The format interface: a translation between container records and ``Sample``/``Document``.

A ``Format`` knows nothing about files: readers in ``sftforge.io`` yield ``RawRecord`` values
(dicts, lists, strings) and a format turns each value into a Sample (``parse``) or a Sample back
into a value (``dump``). What a format cannot carry is declared in ``Capabilities`` so a
conversion can be refused (or counted, with ``allow_lossy``) before anything is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConversionError
from ..sample import Sample, validate_sample

__all__ = ["FORMATS", "Capabilities", "Format", "LossLog", "get_format", "register_format"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a format can hold. A Sample needing more is a lossy conversion."""

    system: bool = True
    multi_turn: bool = True
    tools: bool = False
    tool_calls: bool = False
    reasoning: bool = False
    preference: bool = False  # chosen/rejected
    label: bool = False  # KTO desirable/undesirable
    media: bool = False
    train_flags: bool = False
    ids: bool = False
    # added by the formats branch (defaults keep older constructors valid)
    tool_call_ids: bool = False  # ToolCall.id / Message.tool_call_id
    names: bool = False  # Message.name
    # keys outside the Sample model: unknown top-level keys (``meta["fields"]``) and unknown
    # per-turn keys (``Message.extra``), written back as keys of the record / of the turn
    fields: bool = False
    turn_fields: bool = False


@dataclass
class LossLog:
    """Counts what a lossy conversion dropped, by kind (e.g. ``tools``, ``multi_turn``)."""

    allow: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    def lose(self, what: str, sample: Sample, target: str) -> None:
        """Record a loss, or refuse it with a clear message when lossy writes are not allowed."""
        if not self.allow:
            raise ConversionError(
                f"format '{target}' cannot carry {what}; converting would lose it.",
                sample_id=sample.id,
                hint="choose a format that can carry it, or pass --allow-lossy to drop it and count the losses",
            )
        self.counts[what] += 1


class Format:
    """Base class for one external format. Subclasses set ``name`` and override the three hooks
    (``detect``, ``parse``, ``dump``); ``parse_valid`` may be overridden to fuse parse and checks."""

    name: ClassVar[str] = ""
    # "sample" formats produce Samples; "document" formats (plain text) produce Documents
    kind: ClassVar[str] = "sample"
    # a plain attribute (not ClassVar) so a configured instance can narrow or widen it
    capabilities: Capabilities = Capabilities()
    # the container used when the output path does not say (".json" array vs ".jsonl")
    default_container: ClassVar[str] = "jsonl"

    def detect(self, value: Any) -> float:
        """Confidence in [0, 1] that one record ``value`` is in this format."""
        raise NotImplementedError

    def parse(self, value: Any) -> Sample:
        """Turn one record into a Sample; raise ``FormatError`` with ``field`` on bad input."""
        raise NotImplementedError

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        """Turn a Sample into one record; report anything it cannot carry through ``loss``."""
        raise NotImplementedError

    def parse_valid(self, value: Any, require_answer: bool) -> Sample | None:
        """``parse(value)`` when it gives a Sample that ``validate_sample`` passes, else None (or
        ``parse``'s exception): then the caller reads the record the full way for its error.

        ``convert``'s loop calls this once per record. A format whose ``parse`` already checks
        most of what ``validate_sample`` checks may override it to skip that second pass; the
        result must be exactly ``parse``'s, and None exactly when validation would fail."""
        sample = self.parse(value)
        if sample is None or validate_sample(sample, require_answer=require_answer):
            return None
        return sample


FORMATS: dict[str, Format] = {}


def register_format(cls: type[Format]) -> type[Format]:
    """Class decorator: add a format to the registry under ``cls.name``."""
    FORMATS[cls.name] = cls()
    return cls


def get_format(name: str) -> Format:
    from ..errors import FormatError

    try:
        return FORMATS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(str(name), sorted(FORMATS), n=1, cutoff=0.75)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise FormatError(
            f"unknown format '{name}'.", hint=f"{guess}use one of: {', '.join(sorted(FORMATS))}"
        ) from None
