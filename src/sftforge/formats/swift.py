"""ms-swift: ``messages`` with ``tool_call``/``tool_response`` turns, plus its legacy layout.

Current layout: ``{"messages": [...], "tools": "<JSON string>", "images": [...]}``, where a
``tool_call`` turn's content is a JSON ``{"name", "arguments"}`` (consecutive ``tool_call`` turns
are parallel calls of one assistant turn) and ``tool_response`` (or ``tool``) is a tool result; an
answer's ``loss`` (true/false: trained or not, whatever the loss scale) is ``Message.train``.
Preference data adds ``rejected_response``, KTO data ``label``.
Legacy layout (read only): ``{"system", "query", "response", "history": [[q, r], ...]}``.
Always written in the current layout. Other keys of a record are kept in ``meta["fields"]``,
other keys of a turn in its ``Message.extra`` (parallel ``tool_call`` turns share one message:
their keys are merged and written on the first of them).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sample import Message, Sample
from ._common import (
    MEDIA_COLUMNS,
    check_losses,
    dump_calls,
    dump_media,
    fail,
    label_field,
    missing,
    no_answer,
    not_a_string,
    parse_calls,
    parse_media,
    parse_tools,
    put_extra,
    put_fields,
    put_id,
    record_id,
    require_dict,
    take_fields,
    text_field,
    type_name,
    with_fields,
)
from .alpaca import AlpacaFormat
from .base import Capabilities, Format, LossLog, register_format
from .openai import has_answer, lose_user_train_flags

__all__ = ["SwiftFormat"]

_PLAIN = ("system", "user", "assistant")
_ROLES = ("system", "user", "assistant", "tool_call", "tool_response", "tool")
_TURN_KEYS = frozenset({"role", "content", "loss"})
_KNOWN = frozenset(
    {"id", "messages", "tools", "rejected_response", "label", *(c for _, c in MEDIA_COLUMNS)}
    | {"query", "response", "history", "system"}  # the legacy layout's columns
)


class _LegacySwift(AlpacaFormat):
    """The legacy layout is Alpaca with other column names (not registered on its own)."""

    name = "swift"


_LEGACY = _LegacySwift(
    {"prompt": "query", "query": None, "response": "response", "chosen": None, "rejected": None},
    ranking=False,
)


def _turn(m: Any, where: str) -> tuple[str, str]:
    if type(m) is not dict:
        fail(
            f"'{where}' must be an object with 'role' and 'content', not {type_name(m)}.",
            field=where,
        )
    role, content = m.get("role"), m.get("content")
    if role not in _ROLES:
        if role is None:
            fail(
                f"'{where}' has no 'role' (keys found: {', '.join(m) or 'none'}).",
                field=f"{where}.role",
            )
        fail(
            f"unknown role {role!r} in '{where}.role' (valid: {', '.join(_ROLES)}).",
            field=f"{where}.role",
        )
    if type(content) is not str:
        not_a_string(f"{where}.content", content)
    return role, content


@register_format
class SwiftFormat(Format):
    name = "swift"
    capabilities = Capabilities(
        system=True,
        multi_turn=True,
        tools=True,
        tool_calls=True,
        preference=True,
        label=True,
        media=True,
        ids=True,
        fields=True,
        turn_fields=True,
        train_flags=True,
    )

    def detect(self, value: Any) -> float:
        if type(value) is not dict:
            return 0.0
        if value.get("query") is not None and value.get("response") is not None:
            return 0.9
        msgs = value.get("messages")
        if type(msgs) is not list or not msgs or type(msgs[0]) is not dict:
            return 0.0
        if value.get("rejected_response") is not None or type(value.get("tools")) is str:
            return 0.95
        roles = [m.get("role") if type(m) is dict else None for m in msgs]
        if not all(type(r) is str and r in _ROLES for r in roles):
            return 0.1  # a role no chat format knows: not ours (detection names it)
        if any(r in ("tool_call", "tool_response") for r in roles):
            return 0.95
        return 0.8

    def parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        if rec.get("messages") is None and rec.get("query") is not None:
            return _LEGACY.parse(rec)
        msgs = rec.get("messages")
        if msgs is None:
            missing("messages", rec, self.name)
        if type(msgs) is not list:
            fail(f"'messages' must be a list of messages, not {type_name(msgs)}.", field="messages")
        messages: list[Message] = []
        for i, m in enumerate(msgs):
            if (
                type(m) is dict
                and len(m) == 2
                and type(m.get("content")) is str
                and m.get("role") in _PLAIN
            ):
                messages.append(Message(m["role"], m["content"]))  # the common case inline
                continue
            role, content = _turn(m, f"messages[{i}]")
            extra = take_fields(m, _TURN_KEYS)
            train = m.get("loss")
            if train is not None and type(train) is not bool:
                fail(
                    f"'messages[{i}].loss' must be true or false, not {train!r}.",
                    field=f"messages[{i}].loss",
                )
            if role == "tool_call":
                calls = parse_calls(content, f"messages[{i}].content")
                prev = messages[-1] if messages else None
                if prev is not None and prev.tool_calls and not prev.content:
                    prev.tool_calls.extend(calls)  # parallel calls (ms-swift: the first's loss)
                    if extra:
                        prev.extra = {**(prev.extra or {}), **extra}
                else:
                    messages.append(
                        Message("assistant", "", tool_calls=calls, train=train, extra=extra)
                    )
            else:
                role = "tool" if role == "tool_response" else role
                messages.append(Message(role, content, train=train, extra=extra))  # type: ignore[arg-type]
        if not has_answer(messages):
            no_answer("empty answer: no assistant message has content.", "messages")
        rejected = None
        if rec.get("rejected_response") is not None:
            rejected = Message("assistant", text_field(rec, "rejected_response", self.name))
        label = label_field(rec, "label")
        tools = parse_tools(rec.get("tools"), "tools")
        media = parse_media(rec, MEDIA_COLUMNS)
        meta = with_fields({}, take_fields(rec, _KNOWN))
        return Sample(messages, record_id(rec), tools, rejected, label, media, meta)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        check_losses(sample, self.capabilities, loss, self.name)
        lose_user_train_flags(sample, loss, self.name)  # ms-swift reads loss on answers only
        out: dict[str, Any] = {}
        put_id(out, sample)
        msgs: list[dict[str, Any]] = []
        for m in sample.messages:
            if m.tool_calls:
                if m.content:
                    loss.lose("text alongside tool calls", sample, self.name)
                first = len(msgs)
                msgs.extend({"role": "tool_call", "content": dump_calls([c])} for c in m.tool_calls)
                if m.train is not None:
                    msgs[first]["loss"] = m.train
                put_extra(msgs[first], m, _TURN_KEYS, sample, loss, self.name)
                continue
            turn: dict[str, Any] = {
                "role": "tool_response" if m.role == "tool" else m.role,
                "content": m.content,
            }
            if m.train is not None and m.role == "assistant":
                turn["loss"] = m.train
            msgs.append(put_extra(turn, m, _TURN_KEYS, sample, loss, self.name))
        out["messages"] = msgs
        if sample.tools:
            out["tools"] = orjson.dumps(sample.tools).decode()
        if sample.rejected is not None:
            out["rejected_response"] = sample.rejected.content
        if sample.label is not None:
            out["label"] = sample.label
        dump_media(out, sample, MEDIA_COLUMNS)
        put_fields(out, sample, _KNOWN, loss, self.name)
        return out
