"""TRL / OpenAI-style preference records: ``prompt``/``chosen``/``rejected`` and KTO
``prompt``/``completion``/``label``.

Each field is either a string (standard form) or a list of OpenAI messages (conversational
form); ``prompt`` may be left out when ``chosen`` and ``rejected`` are whole conversations that
share it (TRL's implicit prompt). ``chosen``/``rejected``/``completion`` hold one assistant turn.
Always written in the conversational form: one file must not mix strings and lists in a column
(Parquet and ``datasets`` refuse that), and only that form holds system prompts and history. (LLaMA-Factory's own ranking data is read by the
``alpaca`` and ``sharegpt`` formats.)
"""

from __future__ import annotations

from typing import Any

from ..errors import ConversionError
from ..sample import Message, Sample
from ._common import (
    check_losses,
    fail,
    label_field,
    missing,
    put_extra,
    put_fields,
    put_id,
    record_id,
    require_dict,
    take_fields,
    with_fields,
)
from .base import Capabilities, Format, LossLog, register_format
from .openai import TURN_KEYS, dump_message, lose_user_train_flags, parse_message_list

__all__ = ["PreferenceFormat"]

# what a record holds that this reader interprets; other keys go to meta["fields"]
_KNOWN = frozenset({"id", "prompt", "chosen", "rejected", "completion", "label"})


def _turns(value: Any, key: str, rec: dict[str, Any], role: str) -> list[Message]:
    if value is None:
        missing(key, rec, "trl")
    if type(value) is str:
        return [Message(role, value)]  # type: ignore[arg-type]
    return parse_message_list(value, key, rec)


def _answer(value: Any, key: str, rec: dict[str, Any]) -> Message:
    turns = _turns(value, key, rec, "assistant")
    if len(turns) != 1 or turns[0].role != "assistant":
        roles = ", ".join(m.role for m in turns) or "none"
        fail(f"'{key}' must hold exactly one assistant turn (found: {roles}).", field=key)
    return turns[0]


@register_format
class PreferenceFormat(Format):
    name = "trl"
    capabilities = Capabilities(
        system=True,
        multi_turn=True,
        preference=True,
        label=True,
        ids=True,
        tool_calls=True,
        tool_call_ids=True,
        names=True,
        reasoning=True,
        train_flags=True,
        fields=True,
        turn_fields=True,
    )

    def detect(self, value: Any) -> float:
        if type(value) is not dict:
            return 0.0
        get = value.get
        if get("chosen") is not None and get("rejected") is not None:
            return 0.9 if get("prompt") is not None or type(get("chosen")) is list else 0.5
        kto = get("prompt") is not None and get("completion") is not None
        return 0.9 if kto and get("label") is not None else 0.0

    def parse(self, value: Any) -> Sample:
        rec = require_dict(value, self.name)
        if rec.get("completion") is not None and rec.get("chosen") is None:
            return self._kto(rec)
        prompt = rec.get("prompt")
        chosen_v, rejected_v = rec.get("chosen"), rec.get("rejected")
        if prompt is None and type(chosen_v) is list and type(rejected_v) is list:
            # implicit prompt: both conversations share everything but the last turn
            full = _turns(chosen_v, "chosen", rec, "assistant")
            other = _turns(rejected_v, "rejected", rec, "assistant")
            if len(full) < 2 or full[:-1] != other[:-1]:
                fail(
                    "'chosen' and 'rejected' must share the prompt and differ in the last turn.",
                    field="chosen",
                )
            messages, chosen, rejected = full[:-1], full[-1], other[-1]
            if chosen.role != "assistant" or rejected.role != "assistant":
                fail("'chosen' and 'rejected' must end with an assistant turn.", field="chosen")
        else:
            messages = _turns(prompt, "prompt", rec, "user")
            chosen = _answer(chosen_v, "chosen", rec)
            rejected = _answer(rejected_v, "rejected", rec)
        if not chosen.content.strip() and not chosen.tool_calls:
            fail("empty answer: 'chosen' is empty.", field="chosen")
        messages.append(chosen)
        meta = with_fields({}, take_fields(rec, _KNOWN))
        return Sample(messages, record_id(rec), None, rejected, None, None, meta)

    def _kto(self, rec: dict[str, Any]) -> Sample:
        messages = _turns(rec.get("prompt"), "prompt", rec, "user")
        completion = _answer(rec.get("completion"), "completion", rec)
        if not completion.content.strip() and not completion.tool_calls:
            fail("empty answer: 'completion' is empty.", field="completion")
        label = label_field(rec, "label")
        if label is None:
            missing("label", rec, self.name)
        messages.append(completion)
        meta = with_fields({}, take_fields(rec, _KNOWN))
        return Sample(messages, record_id(rec), None, None, label, None, meta)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        msgs = sample.messages
        if (
            not msgs
            or msgs[-1].role != "assistant"
            or (sample.rejected is None and sample.label is None)
        ):
            raise ConversionError(
                "format 'trl' holds preference pairs or KTO-labelled answers; this sample "
                "has neither a rejected answer nor a label.",
                sample_id=sample.id,
                hint="write plain conversations to a chat format (openai, sharegpt...)",
            )
        check_losses(sample, self.capabilities, loss, self.name)
        lose_user_train_flags(sample, loss, self.name)
        prompt, answer = msgs[:-1], msgs[-1]

        def turn(m: Message) -> dict[str, Any]:
            return put_extra(dump_message(m), m, TURN_KEYS, sample, loss, self.name)

        out: dict[str, Any] = {}
        put_id(out, sample)
        out["prompt"] = [turn(m) for m in prompt]
        if sample.rejected is not None:
            out["chosen"] = [turn(answer)]
            out["rejected"] = [turn(sample.rejected)]
            if sample.label is not None:
                loss.lose("KTO label", sample, self.name)
        else:
            out["completion"] = [turn(answer)]
            out["label"] = sample.label
        put_fields(out, sample, _KNOWN, loss, self.name)
        return out
