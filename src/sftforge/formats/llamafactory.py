"""LLaMA-Factory's ``dataset_info.json``: read an entry into a configured format, write one.

Reading follows LLaMA-Factory's defaults: ``formatting`` alpaca (default) or sharegpt;
``columns`` rename prompt/query/response/history/messages/system/tools/images/videos/audios/
chosen/rejected/kto_tag (a column not named is not read, as in LLaMA-Factory); ``tags`` rename
the sharegpt role/content keys and role values; ``ranking`` marks preference data. An alpaca entry
whose only column is ``prompt`` (pre-training sets such as ``wiki_demo``, ``c4_demo``) is a
document set read with the ``text`` format. ``file_name`` is resolved against the JSON's folder
and may not escape it; entries that live on a hub (``hf_hub_url``...) have no local ``path``.

Writing: ``DatasetFeatures`` collects, while samples are written, which optional columns the
output uses; ``dataset_info_entry`` turns that into the entry LLaMA-Factory needs to read it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import FormatError
from ..sample import Sample
from .alpaca import AlpacaFormat
from .base import Format
from .columns import ColumnMap
from .sharegpt import DEFAULT_TAGS, ShareGPTFormat
from .text import TextFormat

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DatasetEntry",
    "DatasetFeatures",
    "dataset_info_entry",
    "format_from_entry",
    "load_dataset_info",
]

_COLUMNS = (
    "prompt",
    "query",
    "response",
    "history",
    "messages",
    "system",
    "tools",
    "images",
    "videos",
    "audios",
    "chosen",
    "rejected",
    "kto_tag",
)
_HUB_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")


@dataclass(frozen=True, slots=True)
class DatasetEntry:
    """One ``dataset_info.json`` entry: its configured format and where its data lives."""

    name: str
    format: Format
    path: Path | None  # the local file or folder; None for hub datasets
    hub: str | None = None  # the hub address when the data is not local
    ranking: bool = False


def _bad(name: str, message: str, hint: str | None = None) -> FormatError:
    return FormatError(f"dataset_info entry '{name}': {message}", field=name, hint=hint)


def format_from_entry(name: str, entry: dict[str, Any]) -> Format:
    """The Format instance (alpaca, sharegpt or text) an entry describes."""
    if type(entry) is not dict:
        raise _bad(name, "must be an object.")
    formatting = entry.get("formatting", "alpaca")
    columns = entry.get("columns") or {}
    tags = entry.get("tags") or {}
    ranking = bool(entry.get("ranking", False))
    if type(columns) is not dict or type(tags) is not dict:
        raise _bad(name, "'columns' and 'tags' must be objects.")
    unknown = sorted(set(columns) - set(_COLUMNS))
    if unknown:
        raise _bad(name, f"unknown column(s) {', '.join(unknown)} (valid: {', '.join(_COLUMNS)}).")
    if formatting not in ("alpaca", "sharegpt"):
        raise _bad(name, f"unknown formatting {formatting!r} (valid: alpaca, sharegpt).")
    if formatting == "sharegpt":
        unknown = sorted(set(tags) - set(DEFAULT_TAGS))
        if unknown:
            raise _bad(
                name, f"unknown tag(s) {', '.join(unknown)} (valid: {', '.join(DEFAULT_TAGS)})."
            )
    else:
        tags = {}  # LLaMA-Factory reads tags for sharegpt only
    # the one column mapping (formats/columns.py), built the dataset_info way
    cmap = ColumnMap.from_dataset_info(formatting, columns, tags, ranking=ranking)
    return cmap.format()


def _entry(name: str, entry: dict[str, Any], base: Path) -> DatasetEntry:
    fmt = format_from_entry(name, entry)
    ranking = bool(entry.get("ranking", False))
    file_name = entry.get("file_name")
    if file_name is None:
        hub = next((entry[k] for k in _HUB_KEYS if entry.get(k)), None)
        if hub is None:
            raise _bad(name, "has no 'file_name' and no hub address.")
        return DatasetEntry(name, fmt, None, str(hub), ranking)
    if type(file_name) is not str or not file_name:
        raise _bad(name, "'file_name' must be a non-empty string.")
    path = (base / file_name).resolve()
    if not path.is_relative_to(base.resolve()):
        raise _bad(
            name,
            f"'file_name' {file_name!r} points outside {base}.",
            hint="keep data files next to dataset_info.json",
        )
    return DatasetEntry(name, fmt, path, None, ranking)


def load_dataset_info(path: str | Path, name: str | None = None) -> dict[str, DatasetEntry]:
    """Every entry of a ``dataset_info.json`` (or only ``name``), keyed by dataset name."""
    from pathlib import Path  # (not needed to convert: importing it takes longer than 1k records)

    path = Path(path)
    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise FormatError(
            f"cannot read {path} as dataset_info.json: {exc}", file=str(path)
        ) from None
    if type(info) is not dict:
        raise FormatError(
            "dataset_info.json must hold an object of dataset entries.", file=str(path)
        )
    if name is not None:
        if name not in info:
            raise FormatError(
                f"dataset_info.json has no entry '{name}'.",
                file=str(path),
                hint=f"use one of: {', '.join(info)}",
            )
        info = {name: info[name]}
    base = path.parent
    out: dict[str, DatasetEntry] = {}
    for key, entry in info.items():
        try:
            out[key] = _entry(key, entry, base)
        except FormatError as err:
            err.file = str(path)
            raise
    return out


@dataclass
class DatasetFeatures:
    """What optional columns a written dataset uses; ``observe`` every sample written."""

    system: bool = False
    history: bool = False
    tools: bool = False
    ranking: bool = False
    kto: bool = False
    plain: bool = False  # a sample with neither a rejected answer (ranking) nor a label
    media: set[str] = field(default_factory=set)

    def observe(self, sample: Sample) -> None:
        msgs = sample.messages
        if msgs and msgs[0].role == "system":
            self.system = True
        if not self.history and sum(m.role == "user" for m in msgs) > 1:
            self.history = True
        self.tools = self.tools or bool(sample.tools)
        self.ranking = self.ranking or sample.rejected is not None
        self.kto = self.kto or sample.label is not None
        self.plain = self.plain or (sample.rejected is None and sample.label is None)
        if sample.media:
            self.media.update(m.type for m in sample.media)


def dataset_info_entry(fmt: Format, file_name: str, features: DatasetFeatures) -> dict[str, Any]:
    """The ``dataset_info.json`` entry for a file written with ``fmt`` (alpaca or sharegpt kind)."""
    if isinstance(fmt, TextFormat):
        return {"file_name": file_name, "columns": {"prompt": fmt.key}}
    if isinstance(fmt, AlpacaFormat):
        cols, formatting, tags = fmt.columns, "alpaca", None
        wanted = ["prompt", "query", "response"]
        wanted += ["system"] * features.system + ["history"] * features.history
    elif isinstance(fmt, ShareGPTFormat):
        cols, formatting, tags = fmt.columns, "sharegpt", fmt.tags
        wanted = ["messages"] + ["system"] * features.system
    else:
        raise FormatError(
            f"LLaMA-Factory reads alpaca or sharegpt data, not '{fmt.name}'.",
            hint="write the data with --to alpaca or --to sharegpt",
        )
    if features.ranking + features.kto + features.plain > 1:
        raise FormatError(
            "the data mixes preference pairs, KTO-labelled and plain samples; "
            "a LLaMA-Factory dataset holds one kind.",
            hint="write each kind to a file of its own",
        )
    wanted += ["tools"] * features.tools + ["kto_tag"] * features.kto
    wanted += ["chosen", "rejected"] * features.ranking
    wanted += [f"{kind}s" for kind in ("image", "video", "audio") if kind in features.media]
    entry: dict[str, Any] = {"file_name": file_name}
    if formatting == "sharegpt":
        entry["formatting"] = "sharegpt"
    if features.ranking:
        entry["ranking"] = True
    entry["columns"] = {k: cols[k] for k in wanted if cols.get(k)}
    if tags is not None:
        entry["tags"] = {k: v for k, v in tags.items() if v is not None}
    return entry
