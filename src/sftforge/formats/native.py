"""``sftforge``: the native format, one ``Sample.to_dict()`` per record.

Lossless for every field (tools, tool calls, reasoning, preference, label, media, train flags and
``meta``), so it is what checkpoints, spill shards and round-trip tests use. Detection is strict
(only canonical keys, string contents, tool calls as ``{name, arguments}``) so OpenAI records,
whose tool calls nest under ``function``, are not taken for native ones.
"""

from __future__ import annotations

from typing import Any

from ..errors import FormatError
from ..sample import ROLES, Sample
from ._common import label_field
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["NativeFormat"]

_SAMPLE_KEYS = frozenset({"id", "messages", "tools", "rejected", "label", "media", "meta"})
_MESSAGE_KEYS = frozenset(
    {"role", "content", "reasoning", "tool_calls", "name", "tool_call_id", "train", "extra"}
)


def _canonical_message(m: Any) -> bool:
    if type(m) is not dict or not _MESSAGE_KEYS.issuperset(m) or type(m.get("content")) is not str:
        return False
    calls = m.get("tool_calls")
    return calls is None or (
        type(calls) is list and all(type(c) is dict and "name" in c for c in calls)
    )


def _check_message(m: Any, where: str) -> None:
    if type(m) is not dict:
        raise FormatError(f"{where} must be an object, not {type(m).__name__}.", field=where)
    extra = sorted(set(m) - _MESSAGE_KEYS)
    if extra:
        raise FormatError(
            f"{where} has unknown key(s) {', '.join(extra)}.",
            field=where,
            hint=f"native messages hold only: {', '.join(sorted(_MESSAGE_KEYS))}; "
            "keep other keys in the message's 'extra' object",
        )
    if m.get("extra") is not None and type(m["extra"]) is not dict:
        raise FormatError(f"{where}.extra must be an object.", field=f"{where}.extra")
    if m.get("role") not in ROLES:
        raise FormatError(
            f"{where} has role {m.get('role')!r}; valid roles: {', '.join(ROLES)}.",
            field=f"{where}.role",
        )
    if type(m.get("content")) is not str:
        raise FormatError(
            f"{where}.content must be a string, not {type(m.get('content')).__name__}.",
            field=f"{where}.content",
        )


@register_format
class NativeFormat(Format):
    name = "sftforge"
    capabilities = Capabilities(
        system=True,
        multi_turn=True,
        tools=True,
        tool_calls=True,
        reasoning=True,
        preference=True,
        label=True,
        media=True,
        train_flags=True,
        ids=True,
        tool_call_ids=True,
        names=True,
        fields=True,
        turn_fields=True,
    )

    def detect(self, value: Any) -> float:
        if type(value) is not dict or "id" not in value or not _SAMPLE_KEYS.issuperset(value):
            return 0.0
        msgs = value.get("messages")
        if type(msgs) is not list or not msgs or not all(_canonical_message(m) for m in msgs):
            return 0.0
        return 0.95

    def parse(self, value: Any) -> Sample:
        if type(value) is not dict:
            raise FormatError(
                f"a native record must be a JSON object, not {type(value).__name__}.",
                hint="pass --from with the file's real format",
            )
        extra = sorted(set(value) - _SAMPLE_KEYS)
        if extra:
            raise FormatError(
                f"unknown key(s) {', '.join(extra)} (keys found: {', '.join(map(str, value))}).",
                field=extra[0],
                hint="pass --from with the file's real format (native records keep other keys "
                "in meta.fields)",
            )
        msgs = value.get("messages")
        if type(msgs) is not list:
            raise FormatError(
                "missing required field 'messages' (a list of messages).", field="messages"
            )
        for i, m in enumerate(msgs):
            _check_message(m, f"messages[{i}]")
        if value.get("rejected") is not None:
            _check_message(value["rejected"], "rejected")
        label_field(value, "label")
        try:
            return Sample.from_dict(value)
        except (KeyError, TypeError, AttributeError) as exc:
            raise FormatError(f"malformed native record ({exc}).") from None

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        return sample.to_dict()
