"""LLaMA-Factory's v1 data layout: messages whose ``content`` is a list of typed parts.

``{"messages": [{"role", "content": [{"type", "value"}, ...], "loss_weight"}], "tools": "<JSON>"}``
with part types ``text``, ``reasoning``, ``tool_call`` (a JSON ``{"name", "arguments"}``) and
``image_url``/``video_url``/``audio_url``. Preference data has ``chosen_messages`` and
``rejected_messages``, the same conversation ending in different answers.

Mapping: text parts are joined into ``content``; a media part becomes ``Sample.media`` plus an
``<image>``/``<video>``/``<audio>`` placeholder at its place in the text (the way the other
formats mark media), and is put back there on writing. ``loss_weight`` 1/0 is the turn's train
flag only where it differs from the default (assistant 1, other turns 0), so ordinary data
carries no flags into formats that cannot hold them; it is written only for flagged turns, and
a flag equal to the default (train an assistant turn, skip another) cannot be told apart from
no flag: writing one is a loss. Other keys of a record are kept in ``meta["fields"]``, other
keys of a message in its ``Message.extra``, and written back.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import ConversionError
from ..sample import Media, Message, Sample
from ._common import (
    ROLE_SET,
    check_losses,
    dump_calls,
    fail,
    message_role,
    missing,
    no_answer,
    not_a_string,
    parse_calls,
    parse_tools,
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
from .openai import has_answer

__all__ = ["LlamaFactoryV1Format"]

_MEDIA_PARTS = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
_PART_OF_MEDIA = {v: k for k, v in _MEDIA_PARTS.items()}
_PLACEHOLDER = {"image": "<image>", "video": "<video>", "audio": "<audio>"}
_TURN_KEYS = frozenset({"role", "content", "loss_weight"})
_KNOWN = frozenset({"id", "messages", "chosen_messages", "rejected_messages", "tools"})


def _message(m: Any, where: str, media: list[Media]) -> Message:
    if type(m) is not dict:
        fail(
            f"'{where}' must be an object with 'role' and 'content', not {type_name(m)}.",
            field=where,
        )
    role = message_role(m, where)
    parts = m.get("content")
    if type(parts) is not list:
        fail(
            f"'{where}.content' must be a list of parts, not {type_name(parts)}.",
            field=f"{where}.content",
        )
    text: list[str] = []
    reasoning: list[str] = []
    calls = []
    for j, part in enumerate(parts):
        kind = part.get("type") if type(part) is dict else None
        value = part.get("value") if type(part) is dict else None
        if type(value) is not str:
            not_a_string(f"{where}.content[{j}].value", value)
        if kind == "text":
            text.append(value)
        elif kind == "reasoning":
            reasoning.append(value)
        elif kind == "tool_call":
            calls.extend(parse_calls(value, f"{where}.content[{j}].value"))
        elif type(kind) is str and kind in _MEDIA_PARTS:
            media.append(Media(_MEDIA_PARTS[kind], value))  # type: ignore[arg-type]
            text.append(_PLACEHOLDER[_MEDIA_PARTS[kind]])
        else:
            valid = "text, reasoning, tool_call, image_url, video_url, audio_url"
            at = f"{where}.content[{j}].type"
            fail(f"unknown part type {kind!r} in '{at}' (valid: {valid}).", field=at)
    msg = Message(role, "".join(text), "".join(reasoning) if reasoning else None, calls or None)  # type: ignore[arg-type]
    weight = m.get("loss_weight")
    if weight is not None:
        if type(weight) is bool or weight not in (0, 1):
            fail(
                f"'{where}.loss_weight' must be 0 or 1, not {weight!r}.",
                field=f"{where}.loss_weight",
            )
        if bool(weight) != (role == "assistant"):
            msg.train = bool(weight)
    msg.extra = take_fields(m, _TURN_KEYS)
    return msg


def _messages(value: Any, key: str, rec: dict[str, Any], media: list[Media]) -> list[Message]:
    if value is None:
        missing(key, rec, "llamafactory_v1")
    if type(value) is not list:
        fail(f"'{key}' must be a list of messages, not {type_name(value)}.", field=key)
    out = []
    for i, m in enumerate(value):
        parts = m.get("content") if type(m) is dict else None
        if (  # one text part and no weight: the common case inline
            type(parts) is list
            and len(parts) == 1
            and len(m) == 2
            and type(parts[0]) is dict
            and parts[0].get("type") == "text"
            and type(parts[0].get("value")) is str
            and type(m.get("role")) is str
            and m["role"] in ROLE_SET
        ):
            out.append(Message(m["role"], parts[0]["value"]))
        else:
            out.append(_message(m, f"{key}[{i}]", media))
    return out


class _Slots:
    """Hands out the media of a sample, in order, as the placeholders are met."""

    def __init__(self, sample: Sample) -> None:
        media = sample.media or []
        self.queues = {kind: [m.path for m in media if m.type == kind] for kind in _PLACEHOLDER}

    def parts(self, text: str) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        rest = text
        while True:
            hits = [(rest.find(_PLACEHOLDER[k]), k) for k in _PLACEHOLDER if self.queues[k]]
            hits = [(i, k) for i, k in hits if i >= 0]
            if not hits:
                break
            i, kind = min(hits)
            if i:
                out.append({"type": "text", "value": rest[:i]})
            out.append({"type": _PART_OF_MEDIA[kind], "value": self.queues[kind].pop(0)})
            rest = rest[i + len(_PLACEHOLDER[kind]) :]
        if rest or not out:
            out.append({"type": "text", "value": rest})
        return out

    def check_empty(self, sample: Sample) -> None:
        left = sum(len(q) for q in self.queues.values())
        if left:
            raise ConversionError(
                f"format 'llamafactory_v1' places media at their <image>/<video>/<audio> "
                f"placeholders; {left} media file(s) of this sample have none.",
                sample_id=sample.id,
                hint="add one placeholder per media file to the turn that shows it",
            )


@register_format
class LlamaFactoryV1Format(Format):
    name = "llamafactory_v1"
    capabilities = Capabilities(
        system=True,
        multi_turn=True,
        tools=True,
        tool_calls=True,
        reasoning=True,
        preference=True,
        media=True,
        train_flags=True,
        ids=True,
        fields=True,
        turn_fields=True,
    )

    def detect(self, value: Any) -> float:
        if type(value) is not dict:
            return 0.0
        msgs = value.get("messages") or value.get("chosen_messages")
        if type(msgs) is not list or not msgs or type(msgs[0]) is not dict:
            return 0.0
        content = msgs[0].get("content")
        if type(content) is list and content and type(content[0]) is dict and "value" in content[0]:
            return 0.95
        return 0.0

    def parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        media: list[Media] = []
        rejected = None
        if rec.get("messages") is None and rec.get("chosen_messages") is not None:
            chosen = _messages(rec["chosen_messages"], "chosen_messages", rec, media)
            other = _messages(rec.get("rejected_messages"), "rejected_messages", rec, [])
            if not chosen or chosen[:-1] != other[:-1] or chosen[-1].role != "assistant":
                fail(
                    "'chosen_messages' and 'rejected_messages' must be the same conversation "
                    "ending in different assistant answers.",
                    field="rejected_messages",
                )
            messages, rejected = chosen, other[-1]
        else:
            messages = _messages(rec.get("messages"), "messages", rec, media)
        if not has_answer(messages):
            no_answer("empty answer: no assistant message has content.", "messages")
        tools = parse_tools(rec.get("tools"), "tools")
        meta = with_fields({}, take_fields(rec, _KNOWN))
        return Sample(messages, record_id(rec), tools, rejected, None, media or None, meta)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        check_losses(sample, self.capabilities, loss, self.name)
        if any(m.train is (m.role == "assistant") for m in sample.messages):
            # a flag equal to the default weight reads back as no flag
            loss.lose("train flags", sample, self.name)
        slots = _Slots(sample) if sample.media else None
        msgs = [self._message(m, slots, sample, loss) for m in sample.messages]
        if slots is not None:
            slots.check_empty(sample)
        out: dict[str, Any] = {}
        put_id(out, sample)
        if sample.rejected is not None and sample.messages[-1].role == "assistant":
            out["chosen_messages"] = msgs
            rejected = self._message(sample.rejected, None, sample, loss)
            out["rejected_messages"] = [*msgs[:-1], rejected]
        else:
            out["messages"] = msgs
        if sample.tools:
            out["tools"] = orjson.dumps(sample.tools).decode()
        put_fields(out, sample, _KNOWN, loss, self.name)
        return out

    def _message(
        self, m: Message, slots: _Slots | None, sample: Sample, loss: LossLog
    ) -> dict[str, Any]:
        parts: list[dict[str, str]] = []
        if m.reasoning is not None:
            parts.append({"type": "reasoning", "value": m.reasoning})
        if m.content or not m.tool_calls:
            if slots is None:
                parts.append({"type": "text", "value": m.content})
            else:
                parts.extend(slots.parts(m.content))
        for call in m.tool_calls or ():
            parts.append({"type": "tool_call", "value": dump_calls([call])})
        out: dict[str, Any] = {"role": m.role, "content": parts}
        if m.train is not None:
            out["loss_weight"] = 1.0 if m.train else 0.0
        return put_extra(out, m, _TURN_KEYS, sample, loss, self.name)
