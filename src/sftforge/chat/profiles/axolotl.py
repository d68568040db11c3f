"""The ``axolotl`` profile: ids and labels as axolotl 0.19's ``chat_template`` strategy builds them
from the rows and ``axolotl.yaml`` that ``sftforge export --for axolotl`` writes.

What is reproduced (read from axolotl 0.19.0 ``src/axolotl/prompt_strategies/chat_template.py``:
``StrategyLoader``, ``ChatTemplateStrategy._tokenize_single_prompt``, ``get_conversation_thread``,
``transform_message``, ``_build_turn_locator``, ``_find_turn_from_text``, ``_find_turn_from_tokens``,
``find_turn``; ``utils/trainer.py`` filters; checked row for row against axolotl itself by
``export/peers/axolotl.py``):

* **Rows**: the export's JSONL record (:func:`axolotl_record`: OpenAI ``messages``, ``tools`` as
  a JSON string), read back as axolotl reads it: nulls dropped (``remove_none_values``), each
  message rebuilt from ``message_property_mappings`` plus the unmapped keys the template reads
  (:mod:`.axolotl_vars`), tool-call ``arguments`` parsed from JSON, ``training`` taken from the
  ``message_field_training`` key (the export's ``weight``, its per-turn train flag).
* **Ids**: the whole conversation tokenized once (``apply_chat_template(tokenize=True)``, the
  tools passed when there are any).
* **Turns**: each turn to train (``training`` if set, else ``train_on_inputs`` or its role in
  ``roles_to_train``) is found in the rendered *text*: the conversation is rendered again with
  that turn's content replaced by ``[[dummy_message]]`` and by ``zzdummymessagezz`` (every other
  turn kept, so position-dependent template logic cancels out); the widest differing character
  span over the two is mapped to tokens through the offsets of one tokenization of the text.
  When that tokenization does not give back the ids (or the tokenizer is not a fast one), the
  older way is used: render the conversation up to the turn with and without the dummy content
  and diff the ids. Turns not trained are skipped (unless ``train_on_eos``/``train_on_eot`` is
  ``all``).
* **End of turn**: ``train_on_eot`` (default: ``train_on_eos``) over ``eot_tokens`` (default: the
  EOS token), then ``train_on_eos`` over the EOS token: the first such token at or after the
  turn's end, if within 3 tokens, is trained for trained turns (``turn``), every located turn
  (``all``), or only the last one located (``last``).
* **Legacy mode** (``roles_to_train`` empty and no EOS/EOT training and no training field): the
  prompt (every turn but the last, with the generation prompt) is masked, the rest trained.
* **Filters**: rows longer than ``sequence_len`` (``max_length``) or shorter than 2 tokens, and
  rows with no trained token, are dropped (rejected here, with the reason).

Not reproduced: ``training_detail`` spans, content parts, ``split_thinking``, processors
(images), mistral-common tokenizers, ``excess_length_strategy: truncate``.

Every render is bounded (``hf_bounds``: transformers' ``apply_chat_template`` with the template
compiled in sftforge's bounded sandbox; same ids): a sample that drives the template past a bound,
or makes it raise, is rejected with the reason (axolotl would hang or crash on it).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ...errors import SftforgeError, TemplateError, TokenizeError
from ...formats import LossLog, get_format
from ...sample import Sample
from ..jinja_bounds import DEFAULT_BOUNDS, Bounds
from .axolotl_template import decide_axolotl_template
from .axolotl_vars import template_message_vars
from .base import IGNORE_INDEX, Encoded, Profile, Rejected
from .hf_bounds import bounded_apply

__all__ = [
    "AXOLOTL_DATASET",
    "AXOLOTL_OPTIONS",
    "AxolotlProfile",
    "axolotl_record",
]

# the dataset keys the export writes for each ``type: chat_template`` dataset; the profile's
# defaults are the same values, so both describe one run
AXOLOTL_DATASET: dict[str, Any] = {
    "field_messages": "messages",
    # every message key the export writes is mapped, so it reaches the template whatever the
    # template calls its loop variable (unmapped keys only reach ``message.X`` reads)
    "message_property_mappings": {
        "role": "role",
        "content": "content",
        "reasoning_content": "reasoning_content",
        "tool_calls": "tool_calls",
        "name": "name",
        "tool_call_id": "tool_call_id",
    },
    "message_field_training": "weight",  # the export's per-turn train flag (0/1)
    "roles_to_train": ["assistant"],
    "train_on_eos": "turn",
}
# options by axolotl's names: dataset keys, then config keys (``train_on_inputs``, ``eot_tokens``,
# ``chat_template`` - a Jinja string here)
AXOLOTL_OPTIONS: frozenset[str] = frozenset(
    {
        "roles_to_train",
        "train_on_eos",
        "train_on_eot",
        "message_field_training",
        "drop_system_message",
        "train_on_inputs",
        "eot_tokens",
        "chat_template",
    }
)
_DATASET_OPTIONS = ("roles_to_train", "train_on_eos", "train_on_eot", "message_field_training")
_ROLES = {  # axolotl's default role names (``ChatTemplatePrompter.roles``)
    "human": "user",
    "user": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "system": "system",
    "tool": "tool",
}
_SENTINELS = ("[[dummy_message]]", "zzdummymessagezz")
_MIN_LEN = 2  # axolotl's min_sample_len default


def axolotl_record(sample: Sample, loss: LossLog) -> dict[str, Any]:
    """One row of the export's ``train.jsonl``: the OpenAI record, with ``tools`` as a JSON string.

    axolotl reads JSONL through ``datasets``, which merges every row's nested keys into one schema:
    tool definitions with different parameters would come back with each other's keys set to null
    and in the merged order (or not load at all when a key's type differs). axolotl takes
    ``tools`` as a JSON string too (``_get_tools``), so each row keeps its own definitions as
    written."""
    record: dict[str, Any] = get_format("openai").dump(sample, loss)
    tools = record.get("tools")
    if tools:
        record["tools"] = orjson.dumps(tools).decode()
    return record


def _remove_none(obj: Any) -> Any:
    """axolotl's ``remove_none_values``: nulls from the dataset's merged schema go."""
    if isinstance(obj, dict):
        return {k: _remove_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_remove_none(v) for v in obj]
    return obj


@dataclass
class AxolotlProfile(Profile):
    """axolotl ``type: chat_template`` SFT encoding. Options (axolotl's names; defaults are what
    the export writes): ``roles_to_train`` (``[assistant]``), ``train_on_eos`` (``turn`` | ``all``
    | ``last`` | ``none``), ``train_on_eot`` (default: ``train_on_eos``), ``eot_tokens`` (default:
    the EOS token), ``train_on_inputs`` (False), ``message_field_training`` (``weight``),
    ``drop_system_message`` (False), ``chat_template`` (a Jinja string; default: the template
    decision, :func:`decide_axolotl_template`). ``max_length`` is ``sequence_len``."""

    name = "axolotl"
    bounds: Bounds = DEFAULT_BOUNDS  # per render (time, size, loop steps, call depth)

    def __post_init__(self) -> None:
        unknown = set(self.options) - AXOLOTL_OPTIONS
        if unknown:
            raise TokenizeError(
                f"unknown axolotl option(s): {', '.join(sorted(unknown))}",
                hint=f"the axolotl options are: {', '.join(sorted(AXOLOTL_OPTIONS))}",
            )
        opts = {k: AXOLOTL_DATASET[k] for k in _DATASET_OPTIONS if k in AXOLOTL_DATASET}
        opts |= self.options
        roles = opts.get("roles_to_train") or []
        self.roles = [_ROLES.get(r, r) for r in ([roles] if isinstance(roles, str) else roles)]
        self.train_on_eos = opts.get("train_on_eos")
        eot = opts.get("train_on_eot")
        self.train_on_eot = eot if eot is not None else self.train_on_eos
        self.train_on_inputs = bool(opts.get("train_on_inputs", False))
        self.field_training = opts.get("message_field_training")
        self.drop_system = bool(opts.get("drop_system_message", False))
        tpl = self.options.get("chat_template")
        if not isinstance(tpl, str) or not tpl:
            tpl = decide_axolotl_template(self.tokenizer, self.template).source
        if not isinstance(tpl, str):
            raise TemplateError("the tokenizer has no chat template", hint="pass --template")
        self.chat_template = tpl
        self.mappings: dict[str, str] = dict(AXOLOTL_DATASET["message_property_mappings"])
        self.message_vars = template_message_vars(tpl)
        self.eot_ids = self._eot_ids(opts.get("eot_tokens"))

    def _eot_ids(self, eot_tokens: Any) -> set[int]:
        """axolotl's ``_validate_eot_and_eos_tokens`` and its cached EOT ids."""
        eos = getattr(self.tokenizer, "eos_token", None)
        tokens = list(eot_tokens) if eot_tokens is not None else ([eos] if eos is not None else [])
        if not (len(tokens) == 1 and tokens[0] == eos):
            tokens = [t for t in tokens if t in self.chat_template]
            for t in tokens:
                if len(self.tokenizer.encode(t, add_special_tokens=False)) != 1:
                    raise TokenizeError(
                        f"EOT token '{t}' is encoded as several tokens (axolotl stops on it).",
                        field="eot_tokens",
                    )
            if eos in tokens and self.train_on_eos != self.train_on_eot:
                raise TokenizeError(
                    "train_on_eos and train_on_eot differ while the EOS token is an EOT token "
                    "(axolotl stops on it).",
                    field="train_on_eot",
                )
        out = set()
        for t in tokens:
            ids = self.tokenizer.encode(t, add_special_tokens=False)
            if len(ids) == 1:
                out.add(ids[0])
        return out

    # --- the row as axolotl reads it -----------------------------------------------------------

    def _transform(self, message: dict[str, Any]) -> dict[str, Any]:
        turn = {k: message[v] for k, v in self.mappings.items() if message.get(v) is not None}
        if "role" in turn:
            turn["role"] = _ROLES.get(turn["role"], turn["role"])
        mapped = set(self.mappings.values())
        for key in self.message_vars:
            if key in message and key not in mapped and message.get(key) is not None:
                turn[key] = message[key]
        for call in turn.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                fn["arguments"] = json.loads(fn["arguments"])
        return turn

    def _thread(self, record: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        """``get_conversation_thread`` and ``_get_tools``."""
        messages = record["messages"]
        turns: list[dict[str, Any]] = []
        if self._transform(messages[0]).get("role") != "system" and "system" in record:
            turns.append({"role": "system", "content": record["system"]})
        for message in messages:
            turn = self._transform(message)
            training = message.get(self.field_training) if self.field_training else None
            if training is not None:
                turn["training"] = training
            turns.append(turn)
        if self.drop_system and turns and turns[0].get("role") == "system":
            turns = turns[1:]
        tools = record.get("tools")
        if isinstance(tools, str):
            tools = json.loads(tools)
        for tool in tools or []:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("parameters"), str):
                fn["parameters"] = json.loads(fn["parameters"])
        return turns, tools

    # --- rendering -----------------------------------------------------------------------------

    def _apply(self, turns: list[dict[str, Any]], tools: Any, **kwargs: Any) -> Any:
        if tools:
            kwargs["tools"] = tools
        return bounded_apply(
            self.tokenizer,
            turns,
            chat_template=self.chat_template,
            bounds=self.bounds,
            name=self.name,
            add_generation_prompt=kwargs.pop("add_generation_prompt", False),
            **kwargs,
        )

    def _ids(self, turns: list[dict[str, Any]], tools: Any, **kwargs: Any) -> list[int]:
        out = self._apply(turns, tools, tokenize=True, return_dict=False, **kwargs)
        if isinstance(out, dict) or hasattr(out, "keys"):
            out = out["input_ids"]
        return list(out)

    def _text(self, turns: list[dict[str, Any]], tools: Any) -> str | None:
        text = self._apply(turns, tools, tokenize=False)
        return text if isinstance(text, str) else None

    # --- turn finding --------------------------------------------------------------------------

    def _locator(
        self, turns: list[dict[str, Any]], tools: Any, ids: list[int]
    ) -> tuple[str, list[int], list[int]] | None:
        if not getattr(self.tokenizer, "is_fast", False):
            return None
        text = self._text(turns, tools)
        if not text:
            return None
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        if list(enc["input_ids"]) != list(ids):
            return None
        offsets = enc["offset_mapping"]
        return text, [s for s, _ in offsets], [e for _, e in offsets]

    def _from_text(
        self,
        turns: list[dict[str, Any]],
        idx: int,
        tools: Any,
        locator: tuple[str, list[int], list[int]],
    ) -> tuple[int, int] | None:
        full, starts, ends = locator
        spans = []
        for sentinel in _SENTINELS:
            dummy = {"role": turns[idx].get("role"), "content": sentinel}
            text = self._text([*turns[:idx], dummy, *turns[idx + 1 :]], tools)
            if not text:
                return None
            spans.append(_diff_span(full, text))
        char_start = min(s for s, _ in spans)
        char_end = max(e for _, e in spans)
        if char_end <= char_start:
            return -1, -1
        start = bisect_right(ends, char_start)
        end = bisect_left(starts, char_end)
        if start >= len(ends) or end > len(ends):
            return None
        return start, end

    def _from_tokens(
        self, turns: list[dict[str, Any]], idx: int, tools: Any
    ) -> tuple[int, int] | None:
        extra = {"real_last_index": len(turns) - 1} if len(turns) - 1 else {}
        dummy = {"role": turns[idx].get("role"), "content": _SENTINELS[0]}
        dummy_ids = self._ids([*turns[:idx], dummy], tools, **extra)
        full_ids = self._ids(turns[: idx + 1], tools, **extra)
        if not dummy_ids or not full_ids:
            return None
        n = min(len(dummy_ids), len(full_ids))
        start = next((i for i in range(n) if dummy_ids[i] != full_ids[i]), None)
        if start is None:
            return None
        end = next(
            (
                len(full_ids) - i
                for i in range(n)
                if dummy_ids[len(dummy_ids) - 1 - i] != full_ids[len(full_ids) - 1 - i]
            ),
            None,
        )
        if end is None:
            return None
        return start, end

    def _find_turn(
        self,
        turns: list[dict[str, Any]],
        idx: int,
        tools: Any,
        locator: tuple[str, list[int], list[int]] | None,
    ) -> tuple[int, int]:
        name = str(getattr(self.tokenizer, "name_or_path", "") or "").lower()
        if idx == 0 and turns[0].get("role") == "system" and "mistral" in name:
            return -1, -1
        span = self._from_text(turns, idx, tools, locator) if locator is not None else None
        if span is None:
            span = self._from_tokens(turns, idx, tools)
        if span is None:
            return -1, -1
        start, end = span
        if start == -1 or end == -1 or end <= start:
            return -1, -1
        return start, end

    # --- encoding ------------------------------------------------------------------------------

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        return [self._encode_one(s) for s in samples]

    def _encode_one(self, sample: Sample) -> Encoded | Rejected:
        try:
            record = axolotl_record(sample, LossLog())
            # through JSON as the trainer reads the file (tuples become lists, nulls go)
            record = _remove_none(orjson.loads(orjson.dumps(record)))
            turns, tools = self._thread(record)
            if not turns:
                return self.reject(sample, "no messages left (drop_system_message)")
            ids, labels = self._encode_turns(turns, tools)
        except TemplateError as exc:  # the template failed on this sample (a bound, or raised)
            return self.reject(sample, str(exc))
        except SftforgeError as exc:  # the export could not write it (e.g. a loss)
            return self.reject(sample, str(exc))
        except (ValueError, TypeError) as exc:  # axolotl raises on it (bad tool-call JSON...)
            return self.reject(sample, f"axolotl cannot read it: {exc}")
        if self.max_length is not None and len(ids) > self.max_length:
            return self.reject(
                sample, f"{len(ids)} tokens > sequence_len {self.max_length} (dropped)"
            )
        if len(ids) < _MIN_LEN:
            return self.reject(sample, f"{len(ids)} tokens < min_sample_len {_MIN_LEN} (dropped)")
        if all(t == IGNORE_INDEX for t in labels):
            return self.reject(sample, "no trainable tokens (axolotl drops the row)")
        return Encoded(ids, labels, [1] * len(ids), sample.id)

    def _legacy(self) -> bool:
        return not (self.roles or self.train_on_eos or self.train_on_eot or self.field_training)

    def _encode_turns(self, turns: list[dict[str, Any]], tools: Any) -> tuple[list[int], list[int]]:
        if self._legacy():
            prompt = self._ids(turns[:-1], None, add_generation_prompt=True)
            full = self._ids(turns, None)
            ids = prompt + full[len(prompt) :]
            if self.train_on_inputs:
                return ids, list(ids)
            return ids, [IGNORE_INDEX] * len(prompt) + ids[len(prompt) :]
        ids = self._ids(turns, tools)
        labels = [IGNORE_INDEX] * len(ids)
        locator = self._locator(turns, tools, ids)
        last = {"eot": -1, "eos": -1}
        eos_id = self.tokenizer.eos_token_id
        for idx, turn in enumerate(turns):
            if turn.get("training") is not None:
                train = bool(turn["training"])
            else:
                train = self.train_on_inputs or turn.get("role") in self.roles
            if not train and self.train_on_eos != "all" and self.train_on_eot != "all":
                continue
            start, end = self._find_turn(turns, idx, tools, locator)
            if train and start != -1 and end != -1:
                labels[start:end] = ids[start:end]
            for kind, wanted, option in (
                ("eot", self.eot_ids, self.train_on_eot),
                ("eos", {eos_id}, self.train_on_eos),
            ):
                # range from ``end``: -1 when the turn was not found, as in axolotl
                at = next((i for i in range(end, len(ids)) if ids[i] in wanted), -1)
                if at != -1 and abs(at - end) <= 3:
                    last[kind] = at
                    if option == "all" or (option == "turn" and train):
                        labels[at] = ids[at]
        for kind, option in (("eot", self.train_on_eot), ("eos", self.train_on_eos)):
            if option == "last" and last[kind] != -1:
                labels[last[kind]] = ids[last[kind]]
        return ids, labels


def _diff_span(full: str, dummy: str) -> tuple[int, int]:
    """The character span of ``full`` that differs from ``dummy`` (axolotl's ``_diff_char_span``:
    the common suffix is bounded by the common prefix so the two never overlap)."""
    limit = min(len(full), len(dummy))
    start = 0
    while start < limit and full[start] == dummy[start]:
        start += 1
    suffix = 0
    while suffix < limit - start and full[-1 - suffix] == dummy[-1 - suffix]:
        suffix += 1
    return start, len(full) - suffix
