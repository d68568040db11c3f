"""ShareGPT: ``conversations`` of ``{"from", "value"}`` turns, as LLaMA-Factory reads it.

Roles: ``human``/``gpt``/``system``/``function_call``/``observation``. A ``function_call`` value
is a JSON call ``{"name", "arguments"}`` (or a list of them, for parallel calls) and becomes an
assistant turn with ``tool_calls``; ``observation`` becomes a ``tool`` turn. ``tools`` is a JSON
string or a list. The system prompt is read from a leading ``system`` turn or the ``system``
column and written to the column. Preference data has ``chosen``/``rejected`` turn objects after
a conversation that ends with the user; KTO data has a boolean ``label``. Turns in the
``role``/``content`` variant (roles user/assistant/system/tool/observation/function_call) are read
without configuring tags, and written back as ``from``/``value``.

Every key is configurable, as in LLaMA-Factory's ``dataset_info.json``: ``columns`` (messages,
system, tools, images, videos, audios, chosen, rejected, kto_tag) and ``tags`` (role_tag,
content_tag, user_tag, assistant_tag, observation_tag, function_tag, system_tag). FastChat is
this format with human/gpt only and a required ``id``.

Keys that are neither columns nor tags are kept: a record's in ``meta["fields"]``, a turn's in
its ``Message.extra`` (a ``weight``, a ``loss`` mark...), and written back after the known keys.

ShareGPT cannot hold an assistant turn that has both text and calls (they are separate turns),
call ids, reasoning, names or train flags: writing those is a loss.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sample import Message, Sample
from ._common import (
    FIELDS,
    MEDIA_COLUMNS,
    check_losses,
    dump_calls,
    dump_media,
    fail,
    has_values,
    label_field,
    missing,
    no_answer,
    not_a_string,
    parse_calls,
    parse_media,
    parse_tools,
    plain_turns,
    put_extra,
    put_fields,
    put_id,
    record_id,
    require_dict,
    take_fields,
    type_name,
    with_fields,
)
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["DEFAULT_COLUMNS", "DEFAULT_TAGS", "ShareGPTFormat"]

DEFAULT_COLUMNS: dict[str, str | None] = {
    "messages": "conversations",
    "system": "system",
    "tools": "tools",
    "images": "images",
    "videos": "videos",
    "audios": "audios",
    "chosen": "chosen",
    "rejected": "rejected",
    "kto_tag": "label",
}
DEFAULT_TAGS: dict[str, str | None] = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
# role values of the role/content variant (LLaMA-Factory's "OpenAI format" tags)
_ROLE_CONTENT = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "observation": "tool",
    "function_call": "call",
}
_RC_KEYS = frozenset({"role", "content"})
_ROLE_OF_TAG = {
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "tool",
    "function_tag": "call",
    "system_tag": "system",
}


@register_format
class ShareGPTFormat(Format):
    name = "sharegpt"

    def __init__(
        self,
        columns: dict[str, str | None] | None = None,
        tags: dict[str, str | None] | None = None,
        *,
        ranking: bool | None = None,
    ) -> None:
        self.columns = {**DEFAULT_COLUMNS, **(columns or {})}
        self.tags = {**DEFAULT_TAGS, **(tags or {})}
        self.ranking = ranking
        self._role_key = self.tags["role_tag"] or "from"
        self._content_key = self.tags["content_tag"] or "value"
        # tag value -> our role ("call" marks a function-call turn)
        self._roles = {t: _ROLE_OF_TAG[k] for k, t in self.tags.items() if k in _ROLE_OF_TAG and t}
        self._tag_of = {r: t for t, r in self._roles.items()}
        cols = self.columns
        self._media: tuple[tuple[str, str], ...] = tuple(
            (kind, col) for kind, key in MEDIA_COLUMNS if (col := cols.get(key))
        )
        calls = "call" in self._tag_of and "tool" in self._tag_of
        self._conv_col = cols["messages"] or "conversations"
        # what a record and a turn hold that this configuration reads; other keys are kept
        self._known = frozenset({"id", *(v for v in cols.values() if v)})
        self._turn_known = frozenset({self._role_key, self._content_key})
        # the tags the inline parse reads (a function call needs the full parse)
        self._plain_roles = {t: r for t, r in self._roles.items() if r != "call"}
        self._inline = cols["system"] != self._conv_col  # (a column cannot be both)
        user_tag, assistant_tag = self._tag_of.get("user"), self._tag_of.get("assistant")
        # dump writes plain user/assistant turns inline when both roles have a tag
        self._plain_tags = (
            {"user": user_tag, "assistant": assistant_tag} if user_tag and assistant_tag else None
        )
        self.capabilities = Capabilities(
            system=bool(cols["system"] or "system" in self._tag_of),
            multi_turn=True,
            tools=bool(cols["tools"]),
            tool_calls=calls,
            preference=ranking is not False and bool(cols["chosen"] and cols["rejected"]),
            label=bool(cols["kto_tag"]),
            media=bool(self._media),
            ids=True,
            fields=True,
            turn_fields=True,
        )

    # -- reading ------------------------------------------------------------------------------
    def detect(self, value: Any) -> float:
        if type(value) is not dict:
            return 0.0
        conv = value.get(self.columns["messages"] or "conversations")
        if type(conv) is not list or not conv or type(conv[0]) is not dict:
            return 0.0
        first = conv[0]
        if self._role_key in first and self._content_key in first:
            return 0.9
        return 0.85 if "role" in first and "content" in first else 0.2

    def parse(self, value: Any) -> Sample:
        if type(value) is dict and len(value) == 1 and self._inline:
            # only the conversation, of plain turns, with an answer: the common case inline
            conv = value.get(self._conv_col)
            if type(conv) is list:
                rk, ck = self._role_key, self._content_key
                out = plain_turns(conv, rk, ck, self._plain_roles, exact=True)
                if out is not None:
                    return Sample(out)
        return self._parse(value)

    def _parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        cols = self.columns
        key = cols["messages"] or "conversations"
        conv = rec.get(key)
        if conv is None:
            missing(key, rec, self.name)
        if type(conv) is not list:
            fail(f"'{key}' must be a list of turns, not {type_name(conv)}.", field=key)
        messages: list[Message] = []
        if cols["system"]:
            system = rec.get(cols["system"])
            if system:
                if type(system) is not str:
                    not_a_string(cols["system"], system)
                messages.append(Message("system", system))
        roles, rk, ck = self._roles, self._role_key, self._content_key
        for i, turn in enumerate(conv):
            if type(turn) is dict and len(turn) == 2:
                # the common case inline; _turn does the checks, errors and extra keys
                tag, content = turn.get(rk), turn.get(ck)
                role = roles.get(tag) if type(tag) is str else None
                if role is not None and role != "call" and type(content) is str:
                    messages.append(Message(role, content))  # type: ignore[arg-type]
                    continue
            messages.append(self._turn(turn, f"{key}[{i}]"))
        rejected = self._preference(rec, messages) if len(rec) > 1 else None
        for m in messages:
            if m.role == "assistant" and (m.content.strip() or m.tool_calls):
                break
        else:
            no_answer(
                f"empty answer: no '{self._tag_of.get('assistant', 'assistant')}' turn in '{key}' has content.",
                key,
            )
        if len(rec) == 1:  # only the conversation: nothing optional to look up
            return Sample(messages)
        label = label_field(rec, cols["kto_tag"]) if cols["kto_tag"] else None
        tools = parse_tools(rec.get(cols["tools"]), cols["tools"]) if cols["tools"] else None
        media = parse_media(rec, self._media) if self._media else None
        meta = with_fields({}, take_fields(rec, self._known))
        return Sample(messages, record_id(rec), tools, rejected, label, media, meta)

    def _turn(self, turn: Any, where: str) -> Message:
        rk, ck, roles = self._role_key, self._content_key, self._roles
        known = self._turn_known
        if type(turn) is not dict:
            fail(
                f"'{where}' must be an object with '{rk}' and '{ck}', not {type_name(turn)}.",
                field=where,
            )
        if rk not in turn and "role" in turn:
            # the role/content variant of ShareGPT, read without configuring tags
            rk, ck, roles, known = "role", "content", _ROLE_CONTENT, _RC_KEYS
        tag = turn.get(rk)
        content = turn.get(ck)
        role = roles.get(tag) if type(tag) is str else None
        if role is None:
            if tag is None:
                fail(
                    f"'{where}' has no '{rk}' (keys found: {', '.join(turn) or 'none'}).",
                    field=f"{where}.{rk}",
                )
            fail(
                f"unknown role {tag!r} in '{where}.{rk}' (valid: {', '.join(roles)}).",
                field=f"{where}.{rk}",
                hint="pass the dataset's tags (dataset_info.json 'tags') if it uses other role names",
            )
        if type(content) is not str:
            not_a_string(f"{where}.{ck}", content)
        extra = take_fields(turn, known) if len(turn) > 2 else None
        if role == "call":
            calls = parse_calls(content, f"{where}.{ck}")
            return Message("assistant", "", tool_calls=calls, extra=extra)
        return Message(role, content, extra=extra)  # type: ignore[arg-type]

    def _preference(self, rec: dict[str, Any], messages: list[Message]) -> Message | None:
        chosen_key, rejected_key = self.columns["chosen"], self.columns["rejected"]
        if not (chosen_key and rejected_key) or self.ranking is False:
            return None
        if self.ranking is None and rec.get(chosen_key) is None:
            return None
        for key in (chosen_key, rejected_key):
            if rec.get(key) is None:
                missing(key, rec, self.name)
        chosen = self._answer(rec[chosen_key], chosen_key)
        if not chosen.content.strip() and not chosen.tool_calls:
            fail(f"empty answer: '{chosen_key}' is empty.", field=chosen_key)
        messages.append(chosen)
        return self._answer(rec[rejected_key], rejected_key)

    def _answer(self, value: Any, key: str) -> Message:
        # LLaMA-Factory gives turn objects; plain strings are accepted too
        msg = Message("assistant", value) if type(value) is str else self._turn(value, key)
        if msg.role != "assistant":
            fail(f"'{key}' must be an assistant turn, not {msg.role}.", field=key)
        return msg

    # -- writing ------------------------------------------------------------------------------
    def dump(self, sample: Sample, loss: LossLog) -> Any:
        tags = self._plain_tags
        if (
            tags is not None
            and sample.rejected is None
            and sample.label is None
            and not sample.tools
            and not sample.media
        ):
            # only plain user/assistant turns: nothing can be lost, written inline
            rk, ck = self._role_key, self._content_key
            conv: list[dict[str, Any]] = []
            for m in sample.messages:
                tag = tags.get(m.role)
                if tag is None or not m.is_plain():
                    break
                conv.append({rk: tag, ck: m.content})
            else:
                out: dict[str, Any] = {}
                put_id(out, sample)
                out[self._conv_col] = conv
                meta = sample.meta
                if meta and FIELDS in meta:  # (a call only when there are fields)
                    put_fields(out, sample, self._known, loss, self.name)
                return out
        return self._dump(sample, loss)

    def _dump(self, sample: Sample, loss: LossLog) -> Any:
        caps = self.capabilities
        check_losses(sample, caps, loss, self.name)
        cols = self.columns
        msgs = sample.messages
        out: dict[str, Any] = {}
        put_id(out, sample)
        conv: list[dict[str, Any]] = []
        system: str | None = None
        chosen = None
        rejected = sample.rejected if caps.preference else None
        if rejected is not None:
            if msgs and msgs[-1].role == "assistant":
                msgs, chosen = msgs[:-1], msgs[-1]
            else:  # nothing to pair the rejected answer with
                loss.lose("rejected answer", sample, self.name)
        for i, m in enumerate(msgs):
            # (a system turn with keys of its own stays a turn where a tag can name it)
            if (
                m.role == "system"
                and i == 0
                and cols["system"]
                and (m.extra is None or "system" not in self._tag_of)
            ):
                if has_values(m.extra):  # the column holds the text only
                    loss.lose("extra turn fields", sample, self.name)
                system = m.content
                continue
            turn = self._dump_turn(m, sample, loss)
            if turn is not None:
                conv.append(turn)
        out[cols["messages"] or "conversations"] = conv
        if system is not None and cols["system"]:
            out[cols["system"]] = system
        if sample.tools and cols["tools"]:
            out[cols["tools"]] = orjson.dumps(sample.tools).decode()
        if chosen is not None and rejected is not None:
            out[cols["chosen"]] = self._dump_turn(chosen, sample, loss)  # type: ignore[index]
            out[cols["rejected"]] = self._dump_turn(rejected, sample, loss)  # type: ignore[index]
        if sample.label is not None and cols["kto_tag"]:
            out[cols["kto_tag"]] = sample.label
        if self._media:
            dump_media(out, sample, self._media)
        put_fields(out, sample, self._known, loss, self.name)
        return out

    def _dump_turn(self, m: Message, sample: Sample, loss: LossLog) -> dict[str, Any] | None:
        rk, ck = self._role_key, self._content_key
        if m.tool_calls and "call" in self._tag_of:
            if m.content:
                loss.lose("text alongside tool calls", sample, self.name)
            turn = {rk: self._tag_of["call"], ck: dump_calls(m.tool_calls)}
            return put_extra(turn, m, self._turn_known, sample, loss, self.name)
        if m.role == "tool" and "tool" not in self._tag_of:
            return None  # reported as lost tool calls
        if m.role == "assistant" and m.tool_calls and not m.content:
            return None
        tag = self._tag_of.get(m.role)
        if tag is None:  # a system turn the tags cannot name (reported by check_losses)
            return None
        return put_extra({rk: tag, ck: m.content}, m, self._turn_known, sample, loss, self.name)
