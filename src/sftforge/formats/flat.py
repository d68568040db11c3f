"""The flat transcript form: ``{"text": "User: ...</s>\\n Assistant: ...</s>"}``.

Each turn is ``User: `` or ``Assistant: `` + content + ``</s>``, turns joined by ``"\\n "``
(a bare string record is read the same way). Detection needs the ``User: `` start, an
``Assistant: `` turn and the ``</s>`` end, so a plain ``{"text"}`` document is not taken for it.
Content that itself contains ``</s>`` cannot be written (it would end the turn). A record's
other keys are kept in ``meta["fields"]`` and written back beside ``text``.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConversionError
from ..sample import Message, Sample
from ._common import (
    check_losses,
    fail,
    missing,
    no_answer,
    not_a_string,
    put_fields,
    take_fields,
    type_name,
    with_fields,
)
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["FlatFormat"]

EOS = "</s>"
_MARKERS = (("User: ", "user"), ("Assistant: ", "assistant"))
_LABEL = {"user": "User: ", "assistant": "Assistant: "}
_KNOWN = frozenset({"text"})


def _text_of(value: Any) -> str | None:
    if type(value) is str:
        return value
    if type(value) is dict and type(value.get("text")) is str:
        return value["text"]
    return None


@register_format
class FlatFormat(Format):
    name = "flat"
    capabilities = Capabilities(system=False, multi_turn=True, fields=True)

    def detect(self, value: Any) -> float:
        text = _text_of(value)
        if text is None or (type(value) is dict and len(value) > 2):
            return 0.0
        ok = text.startswith("User: ") and text.endswith(EOS) and "Assistant: " in text
        return 0.95 if ok else 0.0

    def parse(self, value: Any) -> Sample:
        text = _text_of(value)
        if text is None:
            if type(value) is dict:
                if "text" not in value:
                    missing("text", value, self.name)
                not_a_string("text", value["text"])
            fail(f'a flat record must be a string or {{"text": ...}}, not {type_name(value)}.')
        if not text.endswith(EOS):
            fail(f"'text' must end with '{EOS}' after the last turn.", field="text")
        messages: list[Message] = []
        for k, part in enumerate(text.split(EOS)[:-1]):
            if k:
                part = part[1:] if part.startswith("\n") else part
                part = part[1:] if part.startswith(" ") else part
            for marker, role in _MARKERS:
                if part.startswith(marker):
                    messages.append(Message(role, part[len(marker) :]))  # type: ignore[arg-type]
                    break
            else:
                fail(
                    f"turn {k + 1} of 'text' does not start with 'User: ' or 'Assistant: ': {part[:30]!r}.",
                    field="text",
                )
        if not any(m.role == "assistant" and m.content.strip() for m in messages):
            no_answer("empty answer: no 'Assistant: ' turn has content.", "text")
        if type(value) is dict and len(value) > 1:
            return Sample(messages, meta=with_fields({}, take_fields(value, _KNOWN)))
        return Sample(messages)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        check_losses(sample, self.capabilities, loss, self.name)
        parts = []
        for m in sample.messages:
            if m.role not in _LABEL or (m.role == "assistant" and m.tool_calls and not m.content):
                continue  # system/tool turns: reported by check_losses
            if EOS in m.content:
                raise ConversionError(
                    f"format 'flat' cannot write a turn that contains '{EOS}'.",
                    sample_id=sample.id,
                    hint="remove the marker from the text, or choose another format",
                )
            parts.append(f"{_LABEL[m.role]}{m.content}{EOS}")
        out = {"text": "\n ".join(parts)}
        put_fields(out, sample, _KNOWN, loss, self.name)
        return out
