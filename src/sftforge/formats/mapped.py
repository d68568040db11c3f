"""``MappedFormat``: records read through a ``ColumnMap`` (see ``formats/columns.py``).

Each record's mapped values are picked out (nested paths included) into a record keyed by part
name, which the Alpaca or ShareGPT format then reads, so the rules and checks of those formats
apply unchanged. On the way, spreadsheet values are made fit: a number or boolean in a text part
becomes its text, an empty cell an empty text; ``history``/``messages``/``tools`` given as JSON text
(a CSV cell) are decoded. Errors name the user's field, not the part. Named ``meta`` fields and (with
``keep_unmapped``) every field the mapping does not read go to ``sample.meta`` (a field named
``meta`` holding an object is merged into it, as the canonical form keeps meta).

A record without an answer (no ``response`` value) is read as a prompt alone; the reader's
``require_answer`` decides whether that is allowed (generators read prompts). Writing puts each
part back at its source path; a path with a list index cannot be written.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import ConversionError, FormatError
from ..sample import Sample
from ._common import FIELDS, require_dict
from .base import Format, LossLog
from .columns import MISSING, TEXT_PARTS, ColumnMap, getter, path_steps

__all__ = ["MappedFormat"]

_JSON_PARTS = frozenset(("history", "messages", "tools", "images", "videos", "audios"))
_NO_ANSWER = "\x00sftforge: no answer\x00"  # stands in for a missing answer while parsing
_TRUE = frozenset(("true", "1", "yes", "y", "是", "对"))
_FALSE = frozenset(("false", "0", "no", "n", "否", "错"))


def _text(value: Any) -> Any:
    """A spreadsheet cell as text: numbers as written (``3`` not ``3.0``), empty as ``""``."""
    if value is None:
        return ""
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float and value.is_integer():
        return str(int(value))
    if type(value) in (int, float):
        return str(value)
    return value


def _fit(part: str, value: Any) -> Any:
    if part in TEXT_PARTS:
        return _text(value)
    if part in _JSON_PARTS and type(value) is str:
        text = value.strip()
        if not text:
            return None
        if text[:1] in ("[", "{"):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value  # the format names the field and the problem
        return value
    if part == "label":
        if type(value) is str and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if type(value) in (int, float) and value in (0, 1):
            return bool(value)
    if part == "id" and type(value) is float and value.is_integer():
        return int(value)
    if part in ("chosen", "rejected"):
        return _text(value)
    return value


class MappedFormat(Format):
    """Reads records through a ``ColumnMap``; not in the registry (it is configured per input)."""

    name = "columns"

    def __init__(self, cmap: ColumnMap) -> None:
        self.cmap = cmap
        names = {p: p for p in cmap.columns}
        if cmap.kind == "alpaca":
            names.setdefault("response", "response")  # an unmapped answer reads as absent
        self.inner = cmap.inner_format(names)
        self.kind = self.inner.kind  # type: ignore[misc]
        self.capabilities = self.inner.capabilities
        self.default_container = self.inner.default_container  # type: ignore[misc]
        self._parts = [(part, getter(src)) for part, src in cmap.columns.items()]
        self._meta = [(name, getter(src)) for name, src in cmap.meta.items()]
        sources = [*cmap.columns.values(), *cmap.meta.values()]
        # the top-level fields read: a path uses up its first field
        self._used: set[str] = set(sources) | {
            str(steps[0]) for s in sources if (steps := path_steps(s)) is not None
        }
        self._optional_answer = cmap.kind == "alpaca" and "chosen" not in cmap.columns

    def detect(self, value: Any) -> float:
        return 0.0  # chosen by the user, never detected

    def parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        parts: dict[str, Any] = {}
        for part, get in self._parts:
            found = get(rec)
            if found is not MISSING:
                fitted = _fit(part, found)
                if fitted is not None:
                    parts[part] = fitted
        no_answer = self._optional_answer and parts.get("response", "") == ""
        if no_answer:
            parts["response"] = _NO_ANSWER
        try:
            sample = self.inner.parse(parts)
        except FormatError as err:
            raise self._renamed(err) from None
        if no_answer:
            sample.messages.pop()
        meta = sample.meta
        for name, get in self._meta:
            found = get(rec)
            if found is not MISSING:
                meta[name] = found
        if self.cmap.keep_unmapped:
            for key, val in rec.items():
                if key == "meta" and type(val) is dict and key not in self._used:
                    for k, v in val.items():  # the canonical form's own meta, merged
                        meta.setdefault(k, v)
                elif key not in self._used:
                    # kept like every format's unknown fields (formats/_common.py FIELDS): in a
                    # namespace of their own, written back by the inner format's dump
                    meta.setdefault(FIELDS, {}).setdefault(key, val)
        return sample

    def _renamed(self, err: FormatError) -> FormatError:
        """The error with the part names replaced by the user's field names."""
        sources = self.cmap.columns
        fld = err.field or ""
        head = fld.split("[", 1)[0].split(".", 1)[0]
        if head in sources:
            err.field = sources[head] + fld[len(head) :]
        for part, src in sources.items():
            err.message = err.message.replace(f"'{part}", f"'{src}")
        return err

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        flat = self.inner.dump(sample, loss)
        out: dict[str, Any] = {}
        for key, value in flat.items():
            _put(out, self.cmap.columns.get(key, key), value)
        for name, src in self.cmap.meta.items():
            if name in sample.meta:
                _put(out, src, sample.meta[name])
        return out


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    steps = path_steps(path) or (path,)
    if any(type(s) is int for s in steps):
        raise ConversionError(
            f"cannot write to '{path}': a path with a list index is for reading only.",
            hint="write with --to FORMAT instead of a column mapping",
        )
    cur = out
    for step in steps[:-1]:
        cur = cur.setdefault(str(step), {})
    cur[str(steps[-1])] = value
