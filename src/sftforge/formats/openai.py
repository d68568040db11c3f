"""OpenAI chat ``messages``: system/user/assistant/tool turns, ``tool_calls``, ``tools``.

Read: ``{"messages": [...]}`` or a bare list of messages per line. ``tool_calls[].function.arguments``
is a JSON string in the API and becomes a dict; ``content`` may be null (a call-only turn) or a
list of ``{"type": "text", "text"}`` parts (joined). ``reasoning_content`` (DeepSeek/vLLM style)
is the turn's reasoning, ``weight`` 0/1 (OpenAI fine-tuning) its train flag. ``tools`` may be a
list or a JSON string; ``label`` (KTO) and ``images``/``videos``/``audios`` columns are kept
(the LLaMA-Factory / ms-swift layout of the same records).

Other keys of a record are kept in ``meta["fields"]``, other keys of a message in its
``Message.extra``; both are written back after the known keys.

Written as ``{"messages": [...]}``. Cannot carry preference pairs (use ``trl``) or train flags
on non-assistant turns.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sample import Message, Sample, ToolCall
from ._common import (
    FIELDS,
    MEDIA_COLUMNS,
    ROLE_SET,
    arguments_of,
    check_losses,
    dump_media,
    fail,
    label_field,
    message_role,
    missing,
    no_answer,
    not_a_string,
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
    wrap_tools,
)
from .base import Capabilities, Format, LossLog, register_format

__all__ = [
    "TURN_KEYS",
    "OpenAIFormat",
    "dump_message",
    "has_answer",
    "lose_user_train_flags",
    "parse_message_list",
]

_ROLE_OF = {r: r for r in ROLE_SET}  # plain_turns' tag -> role map: tags are the roles
# the keys of a message this reader interprets; other keys are the message's extra
TURN_KEYS = frozenset(
    {"role", "content", "tool_calls", "reasoning_content", "name", "tool_call_id", "weight"}
)
_RECORD_KEYS = frozenset({"id", "messages", "tools", "label", *(c for _, c in MEDIA_COLUMNS)})


def _content(value: Any, where: str) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if type(value) is list:
        parts = []
        for part in value:
            if type(part) is dict and part.get("type") == "text" and type(part.get("text")) is str:
                parts.append(part["text"])
            else:
                kind = part.get("type") if type(part) is dict else type(part).__name__
                shown = repr(part) if len(repr(part)) <= 80 else repr(part)[:77] + "..."
                fail(
                    f"'{where}' has a content part of type {kind!r} that is not text: {shown}.",
                    field=where,
                    hint='keep only text parts ({"type": "text", "text": ...}) in '
                    "'content'; images, audio and files go in the record's 'images'/'videos'/"
                    "'audios' columns, or pass --on-error skip to leave such records out",
                )
        return "".join(parts)
    not_a_string(where, value)


def _calls(value: Any, where: str) -> list[ToolCall] | None:
    if value is None:
        return None
    if type(value) is not list:
        fail(f"'{where}' must be a list, not {type_name(value)}.", field=where)
    out = []
    for j, call in enumerate(value):
        at = f"{where}[{j}]"
        fn = call.get("function") if type(call) is dict else None
        if type(fn) is not dict or type(fn.get("name")) is not str:
            fail(
                f'\'{at}\' must be {{"function": {{"name", "arguments"}}}}, not {call!r}.', field=at
            )
        cid = call.get("id")
        out.append(
            ToolCall(
                fn["name"],
                arguments_of(fn.get("arguments"), f"{at}.function.arguments"),
                cid if type(cid) is str else None,
            )
        )
    return out or None


def _message(m: Any, where: str) -> Message:
    if type(m) is not dict:
        fail(
            f"'{where}' must be an object with 'role' and 'content', not {type_name(m)}.",
            field=where,
        )
    role = message_role(m, where)
    content = m.get("content")
    if content is None and role != "assistant":  # only a call-only assistant turn may omit it
        not_a_string(f"{where}.content", None)
    msg = Message(role, _content(content, f"{where}.content"))  # type: ignore[arg-type]
    if len(m) != 2 or "content" not in m:  # the rare fields, looked up only when present
        msg.tool_calls = _calls(m.get("tool_calls"), f"{where}.tool_calls")
        for key, attr in (
            ("reasoning_content", "reasoning"),
            ("name", "name"),
            ("tool_call_id", "tool_call_id"),
        ):
            v = m.get(key)
            if v is not None:
                if type(v) is not str:
                    not_a_string(f"{where}.{key}", v)
                setattr(msg, attr, v)
        weight = m.get("weight")
        if weight is not None:
            if type(weight) is bool or weight not in (0, 1):
                fail(f"'{where}.weight' must be 0 or 1, not {weight!r}.", field=f"{where}.weight")
            msg.train = weight == 1
        msg.extra = take_fields(m, TURN_KEYS)
    return msg


def parse_message_list(msgs: Any, key: str, rec: dict[str, Any] | None = None) -> list[Message]:
    """OpenAI-style message dicts to Messages; shared with ms-swift and TRL."""
    if msgs is None:
        missing(key, rec or {}, "openai")
    if type(msgs) is not list:
        fail(f"'{key}' must be a list of messages, not {type_name(msgs)}.", field=key)
    out: list[Message] = []
    append = out.append
    for m in msgs:
        if type(m) is dict and len(m) == 2:  # plain {"role", "content"}: the common case inline
            role, content = m.get("role"), m.get("content")
            if type(content) is str and type(role) is str and role in ROLE_SET:
                append(Message(role, content))  # type: ignore[arg-type]
                continue
        append(_message(m, f"{key}[{len(out)}]"))
    return out


def dump_message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {
                **({"id": c.id} if c.id is not None else {}),
                "type": "function",
                "function": {"name": c.name, "arguments": orjson.dumps(c.arguments).decode()},
            }
            for c in m.tool_calls
        ]
    if m.reasoning is not None:
        out["reasoning_content"] = m.reasoning
    if m.name is not None:
        out["name"] = m.name
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.train is not None and m.role == "assistant":
        out["weight"] = 1 if m.train else 0
    return out


def lose_user_train_flags(sample: Sample, loss: LossLog, target: str) -> None:
    """``weight`` exists on assistant turns only."""
    if any(m.train is not None and m.role != "assistant" for m in sample.messages):
        loss.lose("train flags", sample, target)


def has_answer(messages: list[Message]) -> bool:
    for m in messages:  # noqa: SIM110 - a plain loop is cheaper than any() over a generator
        if m.role == "assistant" and (m.content.strip() or m.tool_calls):
            return True
    return False


@register_format
class OpenAIFormat(Format):
    name = "openai"
    capabilities = Capabilities(
        system=True,
        multi_turn=True,
        tools=True,
        tool_calls=True,
        reasoning=True,
        train_flags=True,
        label=True,
        media=True,
        ids=True,
        tool_call_ids=True,
        names=True,
        fields=True,
        turn_fields=True,
    )

    def detect(self, value: Any) -> float:
        msgs = value.get("messages") if type(value) is dict else value
        if type(msgs) is not list or not msgs or type(msgs[0]) is not dict:
            return 0.0
        if type(value) is dict and value.get("rejected_response") is not None:
            return 0.3  # ms-swift preference data
        roles = [m.get("role") if type(m) is dict else None for m in msgs]
        return 0.9 if all(type(r) is str and r in ROLE_SET for r in roles) else 0.1

    def parse(self, value: Any) -> Sample:
        if type(value) is dict and len(value) == 1:
            # {"messages": [plain {"role", "content"} turns]} with an answer: inline
            msgs = value.get("messages")
            if type(msgs) is list:
                out = plain_turns(msgs, "role", "content", _ROLE_OF, exact=True)
                if out is not None:
                    return Sample(out)
        return self._parse(value)

    def _parse(self, value: Any) -> Sample:
        if type(value) is list:
            rec: dict[str, Any] = {"messages": value}
        else:
            rec = require_dict(value, self.name)
        messages = parse_message_list(rec.get("messages"), "messages", rec)
        if not has_answer(messages):
            no_answer("empty answer: no assistant message has content.", "messages")
        if len(rec) == 1:  # only the messages: nothing optional to look up
            return Sample(messages)
        label = label_field(rec, "label")
        tools = parse_tools(rec.get("tools"), "tools")
        media = parse_media(rec, MEDIA_COLUMNS)
        meta = with_fields({}, take_fields(rec, _RECORD_KEYS))
        return Sample(messages, record_id(rec), tools, None, label, media, meta)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        if sample.rejected is None and sample.messages:  # plain turns lose nothing: inline
            messages: list[dict[str, Any]] = []
            for m in sample.messages:
                if not m.is_plain():
                    break
                messages.append({"role": m.role, "content": m.content})
            else:
                return self._record(sample, messages, loss)
        return self._dump(sample, loss)

    def _dump(self, sample: Sample, loss: LossLog) -> Any:
        check_losses(sample, self.capabilities, loss, self.name)
        lose_user_train_flags(sample, loss, self.name)
        messages = [
            put_extra(dump_message(m), m, TURN_KEYS, sample, loss, self.name)
            for m in sample.messages
        ]
        return self._record(sample, messages, loss)

    def _record(
        self, sample: Sample, messages: list[dict[str, Any]], loss: LossLog
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        put_id(out, sample)
        out["messages"] = messages
        if sample.tools:
            out["tools"] = wrap_tools(sample.tools)
        if sample.label is not None:
            out["label"] = sample.label
        dump_media(out, sample, MEDIA_COLUMNS)
        meta = sample.meta
        if meta and FIELDS in meta:
            put_fields(out, sample, _RECORD_KEYS, loss, self.name)
        return out
