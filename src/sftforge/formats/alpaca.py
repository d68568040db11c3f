"""Alpaca: ``instruction``/``input``/``output`` with optional ``system`` and ``history``.

The user turn is ``instruction + "\\n" + input`` (LLaMA-Factory's join; either part may be empty).
To write the same split back, the ``input`` part is kept in ``meta["prompt_input"]`` when it is
non-empty; a writer splits the user turn again only if it still ends with that text (an operator
may have rewritten it), else the whole turn becomes the instruction. So read -> write -> read gives
equal Samples, and alpaca -> alpaca gives the same record.

Keys that are not one of the columns (``category``, ``source``...) are kept in
``meta["fields"]`` and written back after the columns (see docs/formats.md); turns have no
object of their own here, so a turn's extra keys cannot be written (a loss).

Also carries, as LLaMA-Factory does: preference pairs (``chosen``/``rejected`` strings instead of
``output``), a KTO ``label``, and ``images``/``videos``/``audios``. Column names are configurable
(``dataset_info.json`` ``columns``); a column set to ``None`` is neither read nor written.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sample import Message, Sample
from ._common import (
    FIELDS,
    MEDIA_COLUMNS,
    check_losses,
    dump_media,
    fail,
    has_own_id,
    has_values,
    label_field,
    missing,
    no_answer,
    pairs_of,
    parse_media,
    parse_tools,
    put_fields,
    put_id,
    record_id,
    require_dict,
    take_fields,
    text_field,
    type_name,
    with_fields,
)
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["PROMPT_INPUT", "AlpacaFormat", "join_prompt", "split_prompt"]

PROMPT_INPUT = "prompt_input"

_DEFAULT_COLUMNS: dict[str, str | None] = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "history": "history",
    "system": "system",
    "tools": None,
    "images": "images",
    "videos": "videos",
    "audios": "audios",
    "chosen": "chosen",
    "rejected": "rejected",
    "kto_tag": "label",
}


def join_prompt(instruction: str, inp: str, meta: dict[str, Any]) -> str:
    """The user turn for an instruction/input pair; remembers the split in ``meta``."""
    if not inp:
        return instruction
    meta[PROMPT_INPUT] = inp
    return f"{instruction}\n{inp}" if instruction else inp


def split_prompt(content: str, meta: dict[str, Any]) -> tuple[str, str]:
    """Back to (instruction, input), using the remembered ``input`` when it still fits."""
    inp = meta.get(PROMPT_INPUT)
    if type(inp) is str and inp:
        if content == inp:
            return "", inp
        if content.endswith(inp) and content[-len(inp) - 1 : -len(inp)] == "\n":
            return content[: -len(inp) - 1], inp
    return content, ""


@register_format
class AlpacaFormat(Format):
    name = "alpaca"
    default_container = "json"

    def __init__(
        self, columns: dict[str, str | None] | None = None, *, ranking: bool | None = None
    ) -> None:
        cols = dict(_DEFAULT_COLUMNS)
        cols.update(columns or {})
        self.columns = cols
        # None: a record is preference data when it has the chosen column; True/False: forced
        self.ranking = ranking
        self._media: tuple[tuple[str, str], ...] = tuple(
            (kind, col) for kind, key in MEDIA_COLUMNS if (col := cols.get(key))
        )
        self._core = {k for k in (cols["prompt"], cols["query"], cols["response"]) if k}
        # the keys this column set reads (and so may not write as kept fields); others are fields
        self._known = frozenset({"id", *(v for v in cols.values() if v)})
        self._others = self._known - self._core  # known keys the inline parse does not read
        self._prompt_col = cols["prompt"] or "instruction"
        self._answer_col = cols["response"] or "output"
        others = {v for k, v in cols.items() if k not in ("prompt", "query", "response") and v}
        # parse's inline case: a record of the core columns only, none of which means more
        self._inline = ranking is not True and not (others & self._core)
        # what this column set can hold: a column that is off is a loss when writing
        self.capabilities = Capabilities(
            system=bool(cols["system"]),
            multi_turn=bool(cols["history"]),
            tools=bool(cols["tools"]),
            preference=ranking is not False and bool(cols["chosen"] and cols["rejected"]),
            label=bool(cols["kto_tag"]),
            media=bool(self._media),
            ids=True,
            fields=True,
        )

    def detect(self, value: Any) -> float:
        if type(value) is not dict or "instruction" not in value:
            return 0.0
        get = value.get  # a null column (Parquet/CSV unions) counts as absent
        if get("output") is not None:
            return 0.95 if (get("history") is not None or get("system") is not None) else 0.9
        return 0.95 if get("chosen") is not None and get("rejected") is not None else 0.3

    def parse(self, value: Any) -> Sample:
        return self._inline_sample(value) or self._parse(value)

    def parse_valid(self, value: Any, require_answer: bool) -> Sample | None:
        # an inline sample is a user turn answered by a non-blank assistant turn, which
        # validate_sample always passes (a blank user turn is legal when answered)
        sample = self._inline_sample(value)
        return sample if sample is not None else super().parse_valid(value, require_answer)

    def _inline_sample(self, value: Any) -> Sample | None:
        """The common record made inline: the core columns (and kept fields) only, strings, a
        non-blank answer; None for anything else (``_parse`` reads it)."""
        if self._inline and type(value) is dict:
            keys = value.keys()
            if keys <= self._core:
                fields = None
            elif keys.isdisjoint(self._others):  # the core columns and kept fields only
                fields = {k: v for k, v in value.items() if k not in self._core}
            else:
                return None
            # instruction/input/output strings and a non-blank answer: the common case inline
            get = value.get
            query = self.columns["query"]
            instruction, answer = get(self._prompt_col), get(self._answer_col)
            inp = get(query) if query else ""
            if (
                type(instruction) is str
                and type(inp) is str
                and type(answer) is str
                and answer
                and not answer.isspace()  # (answer.strip() without the copy)
            ):
                if not inp:
                    if instruction:
                        msgs = [Message("user", instruction), Message("assistant", answer)]
                        meta = {} if fields is None else {FIELDS: fields}
                        return Sample(msgs, "", None, None, None, None, meta)
                else:
                    meta = {}
                    content = join_prompt(instruction, inp, meta)
                    if fields is not None:
                        meta[FIELDS] = fields
                    msgs = [Message("user", content), Message("assistant", answer)]
                    return Sample(msgs, "", None, None, None, None, meta)
        return None

    def _parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        c = self.columns
        meta: dict[str, Any] = {}
        prompt_key, query_key = c["prompt"] or "instruction", c["query"]
        instruction = rec.get(prompt_key)
        if type(instruction) is not str:  # the checks only off the common path
            instruction = text_field(rec, prompt_key, self.name, required=False)
        inp = rec.get(query_key) if query_key else ""
        if type(inp) is not str:
            inp = text_field(rec, query_key, self.name, required=False) if query_key else ""
        content = join_prompt(instruction, inp, meta)
        if not content:
            if rec.get(prompt_key) is None and (not query_key or rec.get(query_key) is None):
                missing(prompt_key, rec, self.name)
            fail(f"empty prompt: '{prompt_key}' is empty.", field=prompt_key)
        messages: list[Message] = []
        if c["system"] and rec.get(c["system"]) is not None:
            system = text_field(rec, c["system"], self.name, required=False)
            if system:
                messages.append(Message("system", system))
        if c["history"] and rec.get(c["history"]) is not None:
            self._history(rec[c["history"]], c["history"], messages)
        messages.append(Message("user", content))
        answer = rec.get(c["response"] or "output")
        if self.ranking is not True and type(answer) is str and answer.strip():
            messages.append(Message("assistant", answer))  # the common case, checked inline
            rejected = None
        else:
            rejected = self._answers(rec, messages)
        if rec.keys() <= self._core:  # instruction/input/output only: nothing more to look up
            return Sample(messages, "", None, rejected, None, None, meta)
        label = self._label(rec)
        tools = parse_tools(rec.get(c["tools"]), c["tools"]) if c["tools"] else None
        media = parse_media(rec, self._media) if self._media else None
        meta = with_fields(meta, take_fields(rec, self._known))
        return Sample(messages, record_id(rec), tools, rejected, label, media, meta)

    def _history(self, hist: Any, key: str, messages: list[Message]) -> None:
        if hist is None:
            return
        if type(hist) is not list:
            fail(
                f"'{key}' must be a list of [user, assistant] pairs, not {type_name(hist)}.",
                field=key,
                hint=f'use "{key}": [] for no history',
            )
        for i, pair in enumerate(hist):
            if (
                type(pair) is not list
                or len(pair) != 2
                or type(pair[0]) is not str
                or type(pair[1]) is not str
            ):
                fail(
                    f"'{key}[{i}]' must be a [user, assistant] pair of strings, not {pair!r}.",
                    field=f"{key}[{i}]",
                )
            messages.append(Message("user", pair[0]))
            messages.append(Message("assistant", pair[1]))

    def _answers(self, rec: dict[str, Any], messages: list[Message]) -> Message | None:
        c = self.columns
        chosen_key, rejected_key = c["chosen"], c["rejected"]
        ranking = self.ranking
        if ranking is None:
            ranking = (
                chosen_key is not None
                and rec.get(chosen_key) is not None
                and rec.get(c["response"] or "output") is None
            )
        if ranking and chosen_key and rejected_key:
            chosen = text_field(rec, chosen_key, self.name)
            rejected = text_field(rec, rejected_key, self.name)
            if not chosen.strip():
                fail(f"empty answer: '{chosen_key}' is empty.", field=chosen_key)
            messages.append(Message("assistant", chosen))
            return Message("assistant", rejected)
        key = c["response"] or "output"
        answer = text_field(rec, key, self.name)
        if not answer.strip():
            no_answer(f"empty answer: '{key}' is empty.", key, "drop the record or fill it in")
        messages.append(Message("assistant", answer))
        return None

    def _label(self, rec: dict[str, Any]) -> bool | None:
        key = self.columns["kto_tag"]
        if not key:
            return None
        return label_field(rec, key)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        msgs = sample.messages
        if (
            len(msgs) == 2
            and sample.rejected is None
            and sample.label is None
            and not sample.tools
            and not sample.media
        ):
            # one plain user/assistant exchange: nothing can be lost, written inline
            u, a = msgs
            if u.role == "user" and a.role == "assistant" and u.is_plain() and a.is_plain():
                out: dict[str, Any] = {}
                if self.capabilities.ids:
                    put_id(out, sample)
                elif has_own_id(sample):
                    if not self.capabilities.fields and has_values(sample.meta.get(FIELDS)):
                        # two losses: the general dump reports them in its (sorted) order
                        return self._dump(sample, loss)
                    loss.lose("ids", sample, self.name)
                query = self.columns["query"]
                meta = sample.meta
                if query:
                    out[self._prompt_col], out[query] = (
                        split_prompt(u.content, meta) if meta else (u.content, "")
                    )
                else:
                    out[self._prompt_col] = u.content
                out[self._answer_col] = a.content
                if meta and FIELDS in meta:
                    self._fields(out, sample, loss)
                return out
        return self._dump(sample, loss)

    def _dump(self, sample: Sample, loss: LossLog) -> Any:
        # the layout first, so strict and lossy writes refuse an impossible sample alike
        system, pairs = pairs_of(
            sample, loss, self.name, single_turn=not self.capabilities.multi_turn
        )
        check_losses(sample, self.capabilities, loss, self.name)
        c = self.columns
        out: dict[str, Any] = {}
        if self.capabilities.ids:
            put_id(out, sample)
        prompt, answer = pairs[-1]
        instruction, inp = split_prompt(prompt, sample.meta)
        if c["query"]:
            out[c["prompt"] or "instruction"] = instruction
            out[c["query"]] = inp
        else:
            out[c["prompt"] or "instruction"] = prompt
        rejected = sample.rejected if self.capabilities.preference else None
        if rejected is not None and c["chosen"] and c["rejected"]:
            out[c["chosen"]] = answer
            out[c["rejected"]] = rejected.content
        else:
            out[c["response"] or "output"] = answer
        if system is not None and c["system"]:
            out[c["system"]] = system
        if len(pairs) > 1 and c["history"]:
            out[c["history"]] = [list(p) for p in pairs[:-1]]
        if sample.label is not None and c["kto_tag"]:
            out[c["kto_tag"]] = sample.label
        if sample.tools and c["tools"]:
            out[c["tools"]] = orjson.dumps(sample.tools).decode()
        if self._media:
            dump_media(out, sample, self._media)
        if self.capabilities.fields:  # (else check_losses has reported them)
            put_fields(out, sample, self._known, loss, self.name)
        return out

    def _fields(self, out: dict[str, Any], sample: Sample, loss: LossLog) -> None:
        if self.capabilities.fields:
            put_fields(out, sample, self._known, loss, self.name)
        elif has_values(sample.meta.get(FIELDS)):
            loss.lose("extra fields", sample, self.name)
