"""Column mapping: which field of a record holds which part of a Sample.

One ``ColumnMap`` serves every way a mapping is given: the CLI's ``--columns 问题=prompt,答案=response``
(``SOURCE=PART`` items), a recipe input's ``columns:`` and ``sftforge.read(..., columns=...)``
(``{SOURCE: PART}``), and LLaMA-Factory's ``dataset_info.json`` ``columns``/``tags``
(``{PART: SOURCE}``, ``ColumnMap.from_dataset_info``).

A SOURCE is a field name or a path into nested values: ``data.q`` (key ``q`` of object ``data``),
``turns[0].text`` (first element of list ``turns``), ``turns[-1]``. A field whose own name contains
``.`` or ``[`` is matched whole first. A PART is one of ``PARTS`` (aliases in ``ALIASES``), a
LLaMA-Factory tag (``role_tag``, ``content_tag``, ``user_tag``... for ``messages``), or
``meta.NAME`` (the value goes to ``sample.meta[NAME]``).

``format()`` turns the mapping into a Format. A mapping that names ``messages`` reads turns the
ShareGPT way (tags as in LLaMA-Factory; role/content turns need none); otherwise one exchange the
Alpaca way (``prompt`` + ``query`` joined by a newline, ``response``, ``system``, ``history``
pairs, ``chosen``/``rejected``...). The parts are read by those formats (``MappedFormat`` hands
them the values it picked out), so there is one parser per layout. Fields the mapping does not
name go to ``meta`` under their own names (``keep_unmapped``); a field a path reads from is
used up, the rest of it included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError
from .alpaca import AlpacaFormat
from .base import Format
from .sharegpt import DEFAULT_TAGS, ShareGPTFormat
from .text import TextFormat

__all__ = ["ALIASES", "PARTS", "TAGS", "ColumnMap"]

PARTS: tuple[str, ...] = (
    "prompt", "query", "response", "system", "history", "messages", "chosen", "rejected",
    "tools", "label", "id", "images", "videos", "audios",
)  # fmt: skip
ALIASES = {
    "input": "query",
    "instruction": "prompt",
    "output": "response",
    "conversations": "messages",
    "kto_tag": "label",
}
TAGS: tuple[str, ...] = tuple(DEFAULT_TAGS)
# the parts that hold one text: a number from a spreadsheet cell becomes its text there
TEXT_PARTS = frozenset(("prompt", "query", "response", "system"))
_ALPACA_ONLY = ("prompt", "query", "response", "history")
_PATH = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[-?\d+\])*")
_SHELL_SPECIAL = re.compile(r"[^\w@%+=:,./-]")
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def _valid_parts() -> str:
    return (
        "prompt, query (input), response (output), system, history, messages (conversations), "
        "chosen, rejected, tools, label, id, images, videos, audios, meta.NAME, "
        f"or a tag for messages: {', '.join(TAGS)}"
    )


def _bad(message: str, hint: str | None = None) -> FormatError:
    return FormatError(f"column mapping: {message}", field="columns", hint=hint)


def path_steps(path: str) -> tuple[str | int, ...] | None:
    """``data.q`` -> ``("data", "q")``, ``turns[0].text`` -> ``("turns", 0, "text")``; None when
    ``path`` is a plain name (or not a path at all: then it can only be a field's whole name)."""
    if not _PATH.fullmatch(path) or ("." not in path and "[" not in path):
        return None
    return tuple(int(i) if i else name for name, i in _STEP.findall(path))


@dataclass(frozen=True)
class ColumnMap:
    """Where each part of a Sample is read from. Build it with ``parse``, ``from_mapping``,
    ``from_dataset_info`` or ``coerce``; ``format()`` gives the Format that reads with it."""

    columns: Mapping[str, str]  # part -> source path
    tags: Mapping[str, str] = field(default_factory=dict)  # tag -> key or role value
    meta: Mapping[str, str] = field(default_factory=dict)  # meta name -> source path
    layout: str | None = None  # "alpaca" | "sharegpt"; None: sharegpt when messages is mapped
    ranking: bool | None = None  # preference data (None: when chosen and rejected are mapped)
    keep_unmapped: bool = True  # fields the mapping does not name go to meta
    documents: bool = False  # LLaMA-Factory: an alpaca entry with only ``prompt`` is plain text

    def __post_init__(self) -> None:
        if self.layout is not None:
            return  # a dataset_info entry: LLaMA-Factory's rules, its defaults filled in
        if self.kind == "sharegpt":
            both = [p for p in _ALPACA_ONLY if p in self.columns]
            if both:
                raise _bad(
                    f"maps messages and {', '.join(both)}; a record is either a conversation "
                    "or one exchange.",
                    hint="map messages (with its tags), or prompt/response, not both",
                )
        elif "prompt" not in self.columns:
            raise _bad(
                "names no prompt (or messages).",
                hint="map the question's field to prompt, e.g. --columns 问题=prompt,答案=response",
            )
        elif self.tags:
            raise _bad(
                f"tags ({', '.join(self.tags)}) only apply to messages.",
                hint="map the conversation's field to messages",
            )

    @property
    def kind(self) -> str:
        """The record layout: ``sharegpt`` (a list of turns) or ``alpaca`` (one exchange)."""
        if self.layout is not None:
            return self.layout
        return "sharegpt" if "messages" in self.columns else "alpaca"

    @classmethod
    def parse(cls, spec: str) -> ColumnMap:
        """``问题=prompt,答案=response,类别=meta.category`` (the CLI's ``--columns``)."""
        pairs: dict[str, str] = {}
        for item in (i.strip() for i in spec.split(",")):
            if not item:
                continue
            source, sep, part = item.rpartition("=")
            if not sep or not source.strip() or not part.strip():
                raise _bad(
                    f"'{item}' is not SOURCE=PART.",
                    hint="write it as --columns 问题=prompt,答案=response",
                )
            if source.strip() in pairs:
                raise _bad(f"'{source.strip()}' is mapped twice.", hint="map each field once")
            pairs[source.strip()] = part.strip()
        return cls.from_mapping(pairs)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ColumnMap:
        """``{SOURCE: PART}`` (a recipe's ``columns:``, the Python argument)."""
        if not isinstance(mapping, Mapping) or not mapping:
            raise _bad(
                "must map at least one field to a part.", hint="e.g. {问题: prompt, 答案: response}"
            )
        columns: dict[str, str] = {}
        tags: dict[str, str] = {}
        meta: dict[str, str] = {}
        for source, raw in mapping.items():
            if not isinstance(raw, str) or not isinstance(source, str) or not source:
                raise _bad(f"{source!r}: {raw!r} must map a field name to a part name.")
            part = raw.strip()
            if part.startswith("meta.") and len(part) > 5:
                meta[part[5:]] = source
                continue
            part = part.lower()
            part = ALIASES.get(part, part)
            if part in TAGS:
                tags[part] = source
                continue
            if part not in PARTS:
                raise _bad(
                    f"unknown part '{raw}' in '{source}={raw}'.",
                    hint=f"use one of: {_valid_parts()}",
                )
            if part in columns:
                raise _bad(
                    f"both '{columns[part]}' and '{source}' map to {part}.",
                    hint="map one field to each part",
                )
            columns[part] = source
        return cls(columns, tags, meta)

    @classmethod
    def from_dataset_info(
        cls,
        formatting: str,
        columns: Mapping[str, str | None],
        tags: Mapping[str, str],
        *,
        ranking: bool,
    ) -> ColumnMap:
        """A ``dataset_info.json`` entry's mapping (``{PART: SOURCE}``, LLaMA-Factory's
        defaults filled in, unnamed columns not read, as LLaMA-Factory does)."""
        defaults = (
            {"prompt": "instruction", "query": "input", "response": "output"}
            if formatting == "alpaca"
            else {"messages": "conversations"}
        )
        if ranking:  # LLaMA-Factory needs them named; the usual names are the friendly default
            defaults.update(chosen="chosen", rejected="rejected")
        given = {ALIASES.get(k, k): v for k, v in columns.items()}
        cols = {k: v for k, v in {**defaults, **given}.items() if v}  # null: the column is off
        documents = formatting == "alpaca" and set(columns) == {"prompt"} and not ranking
        return cls(cols, dict(tags), {}, formatting, ranking, False, documents)

    @classmethod
    def coerce(cls, value: str | Mapping[str, Any] | ColumnMap) -> ColumnMap:
        """A ColumnMap from the CLI string, a ``{SOURCE: PART}`` mapping or a ColumnMap."""
        if isinstance(value, ColumnMap):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        return cls.from_mapping(value)

    def to_dict(self) -> dict[str, str]:
        """``{SOURCE: PART}``, the form a recipe writes (and its lock records)."""
        out = {src: part for part, src in self.columns.items()}
        out.update({src: tag for tag, src in self.tags.items()})
        out.update({src: f"meta.{name}" for name, src in self.meta.items()})
        return out

    def spec(self) -> str:
        """The ``--columns`` value for this mapping, quoted for a shell when it needs it."""
        text = ",".join(f"{src}={part}" for src, part in self.to_dict().items())
        # (shlex.quote would quote every non-ASCII name; 问题=prompt needs no quotes)
        if not _SHELL_SPECIAL.search(text):
            return text
        import shlex  # (here: only a name with shell characters needs it)

        return shlex.quote(text)

    def check_fields(self, values: list[Any], file: str) -> None:
        """Refuse the mapping when a field it reads the prompt, answer or conversation from is in
        none of ``values`` (the first records): a typo, not 300 records without an answer."""
        records = [v for v in values if type(v) is dict]
        if not records:
            return
        for part in ("prompt", "response", "messages"):
            source = self.columns.get(part)
            if source is None:
                continue
            get = getter(source)
            if all(get(rec) is MISSING for rec in records):
                keys = dict.fromkeys(k for rec in records for k in rec)
                raise FormatError(
                    f"column mapping: '{source}' (mapped to {part}) is not a field of the "
                    f"first {len(records)} records; their fields are: {', '.join(map(str, keys))}.",
                    file=file,
                    field="columns",
                    hint="map a field the file has (names are matched exactly)",
                )

    def format(self) -> Format:
        """The Format that reads (and writes) records with this mapping."""
        plain = all(path_steps(s) is None for s in self.columns.values())
        if self.documents:
            return TextFormat(self.columns["prompt"])
        if not self.keep_unmapped and not self.meta and plain:
            return self.inner_format(self.columns)  # the columns read in place, no copying
        from .mapped import MappedFormat

        return MappedFormat(self)

    def inner_format(self, names: Mapping[str, str]) -> Format:
        """The Alpaca or ShareGPT format reading the mapped parts from keys ``names[part]``;
        parts not mapped are off (neither read nor written)."""
        cols: dict[str, str | None] = {p: names.get(p) for p in PARTS if p not in ("id", "label")}
        cols["kto_tag"] = names.get("label")
        del cols["messages"]
        ranking = self.ranking
        if ranking is None and "chosen" in names and "rejected" in names:
            ranking = None if "response" in names else True
        if self.kind == "sharegpt":
            cols["messages"] = names.get("messages")
            for key in _ALPACA_ONLY:
                del cols[key]
            return ShareGPTFormat(cols, {**DEFAULT_TAGS, **self.tags}, ranking=ranking)
        return AlpacaFormat(cols, ranking=ranking)


def getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A function reading ``path`` from a record; it returns ``MISSING`` when a step is absent.
    A string met on the way that holds JSON (a CSV cell) is decoded to go on."""
    steps = path_steps(path)
    if steps is None:
        return lambda rec: rec.get(path, MISSING)

    def get(rec: dict[str, Any]) -> Any:
        if path in rec:
            return rec[path]
        cur: Any = rec
        for step in steps:
            if type(cur) is str and cur[:1] in ("{", "["):
                cur = _json(cur)
            if type(step) is int:
                if type(cur) is not list or not -len(cur) <= step < len(cur):
                    return MISSING
                cur = cur[step]
            elif type(cur) is dict and step in cur:
                cur = cur[step]
            else:
                return MISSING
        return cur

    return get


def _json(text: str) -> Any:
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
