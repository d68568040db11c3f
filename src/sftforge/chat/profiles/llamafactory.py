"""The ``llamafactory`` profile: ids and labels exactly as LLaMA-Factory 0.9.5 builds them for SFT.

What is reproduced (read from LLaMA-Factory 0.9.5, the version on PyPI as ``llamafactory``):

* **Reading** - ``data/converter.py`` ``SharegptDatasetConverter``: a leading system turn becomes the
  system prompt; roles must alternate user/observation - assistant/function_call and the count must
  be even, else the sample is dropped. :func:`to_lf_record` writes the exact record the
  ``export --for llamafactory`` file holds, so this profile sees what LLaMA-Factory would read.
* **Segmenting** - ``data/template.py`` ``Template._encode``/``encode_multiturn``: every message is
  formatted with its role's slots (prefix and system only on the first message) and **each string
  slot is tokenized on its own** with ``add_special_tokens=False``; BOS/EOS slots add the ids;
  ``Llama2Template`` folds the system text into the first user turn; ``ReasoningTemplate`` adds an
  empty ``<think>`` block to answers without one (trained when ``enable_thinking``).
* **Special tokens** - ``Template.fix_special_tokens``: ``replace_eos`` makes the first stop word the
  EOS (added to the vocabulary if missing), other stop words become special tokens, a missing pad
  becomes EOS. Done on a copy of the tokenizer.
* **Masking and truncation** - ``data/processor/supervised.py`` ``_encode_data_example``: per
  (prompt, answer) pair, ``infer_seqlen`` shares ``cutoff_len`` (default 2048) between the two;
  prompts are masked unless ``train_on_prompt``; ``mask_history`` keeps the last turns first and
  trains only the last; ``efficient_eos`` templates put the EOS in the next prompt's first label.
* **Template without a name** - ``parse_template``: the tokenizer's own chat template cut into slots.

Not reproduced: multimodal plugins (samples with media are rejected), tool formats other than
``default``, ``qwen``, ``glm4``, ``llama3``, ``mistral``, packing (``packing``/``neat_packing``), and per-turn ``train`` flags, which
LLaMA-Factory 0.9.5 has no way to express.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Profile, Rejected, encode_texts
from .llamafactory_templates import BOS, EOS, LFTemplate, Slot, Tok, get_lf_template
from .llamafactory_tools import format_function_call, format_tools

__all__ = [
    "LF_DATASET_TAGS",
    "LlamaFactoryProfile",
    "align_lf_record",
    "infer_seqlen",
    "parse_chat_template",
    "to_lf_record",
]

THOUGHT_WORDS = ("<think>\n", "\n</think>\n\n")
# The dataset_info.json entry fields that describe a file written by to_lf_record.
LF_DATASET_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
_ROLE_OF_TAG = {
    "user": "user",
    "assistant": "assistant",
    "observation": "observation",
    "function_call": "function",
    "system": "system",
}


def to_lf_record(sample: Sample) -> dict[str, Any]:
    """The record LLaMA-Factory reads with ``formatting: sharegpt`` and the tags in LF_DATASET_TAGS.

    ShareGPT rather than LLaMA-Factory's ``openai`` formatting, because 0.9.5's openai converter
    appends "detailed thinking off" to every system prompt. An assistant turn with tool calls becomes
    a ``function_call`` turn holding the JSON list of calls (its text is dropped: LLaMA-Factory has
    no slot for it); consecutive tool results are joined into one observation the way LLaMA-Factory's
    openai converter joins them; reasoning goes inline as ``<think>\n...\n</think>\n\n``; tool-call
    arguments stay objects (LLaMA-Factory ``json.dumps`` them); the tool list is a JSON string.
    """
    messages: list[dict[str, str]] = []
    tool_results: list[str] = []
    for m in sample.messages:
        if m.role == "tool":
            tool_results.append(m.content)
            continue
        if tool_results:
            joined = "\n</tool_response>\n<tool_response>\n".join(tool_results)
            messages.append({"role": "observation", "content": joined})
            tool_results = []
        thought = ""
        if m.reasoning is not None and m.role == "assistant":
            thought = THOUGHT_WORDS[0] + m.reasoning + THOUGHT_WORDS[1]
        if m.tool_calls:
            calls = [{"name": c.name, "arguments": c.arguments} for c in m.tool_calls]
            content = thought + json.dumps(calls, ensure_ascii=False)
            messages.append({"role": "function_call", "content": content})
        else:
            messages.append({"role": m.role, "content": thought + m.content})
    if tool_results:
        joined = "\n</tool_response>\n<tool_response>\n".join(tool_results)
        messages.append({"role": "observation", "content": joined})
    record: dict[str, Any] = {"messages": messages}
    if sample.tools:
        record["tools"] = json.dumps(sample.tools, ensure_ascii=False)
    return record


@dataclass(slots=True)
class _Aligned:
    messages: list[dict[str, str]]  # prompt + response, roles user/assistant/observation/function
    system: str
    tools: str


def align_lf_record(record: dict[str, Any]) -> _Aligned | str:
    """``SharegptDatasetConverter`` + the processor's validity check; a string is the drop reason."""
    messages = record["messages"]
    system = ""
    if messages and messages[0]["role"] == "system":
        system, messages = messages[0]["content"], messages[1:]
    accept = (("user", "observation"), ("assistant", "function_call"))
    aligned: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        if msg["role"] not in accept[i % 2]:
            return "roles do not alternate user/tool - assistant (LLaMA-Factory drops it)"
        aligned.append({"role": _ROLE_OF_TAG[msg["role"]], "content": msg["content"]})
    if len(aligned) % 2 != 0 or not aligned:
        return "the conversation does not end with an assistant turn (LLaMA-Factory drops it)"
    return _Aligned(aligned, system, record.get("tools") or "")


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's split of ``cutoff_len`` between a prompt and its answer."""
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    new_source_len = min(max(cutoff_len - new_target_len, 0), source_len)
    return new_source_len, new_target_len


def _fill(slots: list[Slot], **kwargs: str) -> list[Slot]:
    """``StringFormatter.apply``: each placeholder replaced once per slot, in keyword order."""
    out: list[Slot] = []
    for slot in slots:
        if isinstance(slot, str):
            for name, value in kwargs.items():
                slot = slot.replace("{{" + name + "}}", value, 1)
        out.append(slot)
    return out


def _remove_thought(tpl: LFTemplate, content: str) -> str:
    pattern = f"{re.escape(tpl.thought_words[0])}(.*?){re.escape(tpl.thought_words[1])}"
    return re.sub(pattern, "", content, flags=re.DOTALL).lstrip("\n")


def _message_slots(
    tpl: LFTemplate, messages: list[dict[str, str]], system: str, tools: str
) -> list[list[Slot]]:
    """``Template._encode`` (and ``Llama2Template._encode``) up to, not including, tokenization."""
    system = system or tpl.default_system
    out: list[list[Slot]] = []
    for i, msg in enumerate(messages):
        elements: list[Slot] = []
        system_text = ""
        if i == 0:
            elements += tpl.prefix
            if system or tools:
                tool_text = format_tools(tools, tpl.tools_tool_format) if tools else ""
                filled = _fill(tpl.system, content=system + tool_text)
                if tpl.kind == "llama2":
                    system_text = filled[0] if isinstance(filled[0], str) else ""
                else:
                    elements += filled
        role, content = msg["role"], msg["content"]
        if role == "user":
            if tpl.kind == "llama2":
                elements += _fill(tpl.user, content=system_text + content)
            else:
                elements += _fill(tpl.user, content=content, idx=str(i // 2))
        elif role == "assistant":
            elements += _fill(tpl.assistant, content=content)
        elif role == "observation":
            elements += _fill(tpl.observation, content=content)
        else:  # function
            if tpl.kind == "llama2":  # Llama2Template passes no thought/tool-call words
                text = format_function_call(content, tpl.function_tool_format, None, None)
            else:
                text = format_function_call(
                    content, tpl.function_tool_format, tpl.thought_words, tpl.tool_call_words
                )
            elements += _fill(tpl.function, content=text)
        out.append(elements)
    return out


def _reasoning_messages(
    tpl: LFTemplate, messages: list[dict[str, str]], discard_history_cot: bool
) -> list[dict[str, str]]:
    """``ReasoningTemplate.encode_multiturn``'s edits to the answers before encoding."""
    messages = deepcopy(messages)
    if tpl.enable_thinking is False:
        for i in range(1, len(messages), 2):
            messages[i]["content"] = _remove_thought(tpl, messages[i]["content"])
    if discard_history_cot:
        for i in range(1, len(messages) - 2, 2):
            messages[i]["content"] = _remove_thought(tpl, messages[i]["content"])
    return messages


def parse_chat_template(tokenizer: Any) -> LFTemplate:
    """``parse_template``: LLaMA-Factory's template when none is named, cut from the tokenizer's own."""

    def find_diff(short: str, long: str) -> str:
        i = j = 0
        diff = ""
        while i < len(short) and j < len(long):
            if short[i] == long[j]:
                i += 1
            else:
                diff += long[j]
            j += 1
        return diff

    def render(msgs: list[dict[str, str]], gen: bool) -> str:
        return str(tokenizer.apply_chat_template(msgs, add_generation_prompt=gen, tokenize=False))

    prefix = tokenizer.decode(tokenizer.encode(""))
    c = "{{content}}"
    system_slot = render([{"role": "system", "content": c}], False)[len(prefix) :]
    user_empty_sys = render(
        [{"role": "system", "content": ""}, {"role": "user", "content": c}], True
    )[len(prefix) :]
    user_slot = render([{"role": "user", "content": c}], True)[len(prefix) :]
    assistant_slot = render(
        [{"role": "user", "content": c}, {"role": "assistant", "content": c}], False
    )[len(prefix) + len(user_slot) :]
    kind = "reasoning" if "<think>" in assistant_slot else "plain"
    assistant_slot = assistant_slot.replace("<think>", "").replace("</think>", "").lstrip("\n")
    default_system = ""
    if len(user_slot) > len(user_empty_sys):
        default_system = find_diff(user_empty_sys, user_slot)
        user_slot = user_slot[len(system_slot.replace(c, default_system, 1)) :]
    return LFTemplate(
        name="(tokenizer)",
        user=[user_slot],
        assistant=[assistant_slot],
        system=[system_slot],
        function=[assistant_slot],
        observation=[user_slot],
        prefix=[prefix] if prefix else [],
        default_system=default_system,
        kind=kind,  # type: ignore[arg-type]
    )


def _fix_special_tokens(tokenizer: Any, tpl: LFTemplate) -> Any:
    """``Template.fix_special_tokens`` on a copy, so the caller's tokenizer is left alone."""
    tokenizer = deepcopy(tokenizer)
    stop_words = tpl.stop_words
    if tpl.replace_eos:
        if not stop_words:
            raise TokenizeError(f"template '{tpl.name}' replaces EOS but has no stop words")
        if tokenizer.eos_token != stop_words[0]:
            tokenizer.add_special_tokens({"eos_token": stop_words[0]})
        stop_words = stop_words[1:]
    if tokenizer.eos_token_id is None and tokenizer.eos_token != "<|endoftext|>":
        tokenizer.add_special_tokens({"eos_token": "<|endoftext|>"})
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if stop_words:
        try:
            tokenizer.add_special_tokens(
                {"additional_special_tokens": stop_words}, replace_additional_special_tokens=False
            )
        except TypeError:
            tokenizer.add_special_tokens({"additional_special_tokens": stop_words})
    return tokenizer


@dataclass
class LlamaFactoryProfile(Profile):
    """LLaMA-Factory 0.9.5 SFT encoding. Options (LLaMA-Factory's names): ``train_on_prompt``,
    ``mask_history``, ``enable_thinking`` (default True), ``preserve_thinking``, ``default_system``.
    ``max_length`` is ``cutoff_len`` (LLaMA-Factory's default 2048 when ``None`` is not asked for).
    """

    name = "llamafactory"

    def __post_init__(self) -> None:
        opts = self.options
        unknown = set(opts) - {
            "train_on_prompt", "mask_history", "enable_thinking", "preserve_thinking", "default_system"
        }  # fmt: skip
        if unknown:
            raise TokenizeError(f"unknown llamafactory option(s): {', '.join(sorted(unknown))}")
        if self.template is not None:
            tpl = get_lf_template(self.template)
        elif isinstance(getattr(self.tokenizer, "chat_template", None), str):
            tpl = parse_chat_template(self.tokenizer)
        else:
            tpl = get_lf_template("empty")
        self.train_on_prompt = bool(opts.get("train_on_prompt", False))
        self.mask_history = bool(opts.get("mask_history", False))
        if self.train_on_prompt and self.mask_history:
            raise TokenizeError(
                "`mask_history` is incompatible with `train_on_prompt` (LLaMA-Factory)"
            )
        if self.train_on_prompt and tpl.efficient_eos:
            raise TokenizeError(f"template '{tpl.name}' does not support `train_on_prompt`")
        if opts.get("default_system") is not None:
            tpl.default_system = str(opts["default_system"])
        if tpl.kind == "reasoning":
            tpl.enable_thinking = opts.get("enable_thinking", True)
            tpl.preserve_thinking = bool(opts.get("preserve_thinking", False))
        self.tpl = tpl
        self.tok = _fix_special_tokens(self.tokenizer, tpl)
        for slot in (*tpl.prefix, *tpl.user, *tpl.assistant, *tpl.system, *tpl.observation):
            if isinstance(slot, Tok) and self.tok.convert_tokens_to_ids(slot.name) is None:
                raise TemplateError(
                    f"template '{tpl.name}' needs the token {slot.name!r}, which the tokenizer lacks"
                )
        self.cutoff_len = 2048 if self.max_length is None else self.max_length
        self._thought_ids: list[int] | None = None

    # -- tokenization of slots --------------------------------------------------------------
    def _special_id(self, slot: Slot) -> list[int]:
        if isinstance(slot, Tok):
            return [self.tok.convert_tokens_to_ids(slot.name)]
        if slot == BOS:
            return [] if self.tok.bos_token_id is None else [self.tok.bos_token_id]
        if slot == EOS:
            return [] if self.tok.eos_token_id is None else [self.tok.eos_token_id]
        raise AssertionError(slot)

    def _ids_of(self, per_sample: list[list[list[Slot]]]) -> list[list[list[int]]]:
        """Tokenize every string slot of every message of every sample in one batched call."""
        index: dict[str, int] = {}
        for messages in per_sample:
            for elements in messages:
                for el in elements:
                    if isinstance(el, str) and el and el not in index:
                        index[el] = len(index)
        ids = encode_texts(self.tok, index)
        out = []
        for messages in per_sample:
            enc_msgs = []
            for elements in messages:
                row: list[int] = []
                for el in elements:
                    if isinstance(el, str):
                        if el:
                            row += ids[index[el]]
                    else:
                        row += self._special_id(el)
                enc_msgs.append(row)
            out.append(enc_msgs)
        return out

    @property
    def thought_ids(self) -> list[int]:
        if self._thought_ids is None:
            words = self.tpl.thought_words
            self._thought_ids = encode_texts(self.tok, [words[0] + words[1]])[0]
        return self._thought_ids

    # -- encoding ----------------------------------------------------------------------------
    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        tpl = self.tpl
        discard_cot = self.mask_history and not tpl.preserve_thinking
        results: list[Encoded | Rejected | None] = [None] * len(samples)
        todo: list[tuple[int, list[dict[str, str]]]] = []
        slots: list[list[list[Slot]]] = []
        for i, sample in enumerate(samples):
            if sample.media:
                results[i] = self.reject(
                    sample, "media are not reproduced by the llamafactory profile"
                )
                continue
            aligned = align_lf_record(to_lf_record(sample))
            if isinstance(aligned, str):
                results[i] = self.reject(sample, aligned)
                continue
            msgs = aligned.messages
            if tpl.kind == "reasoning":
                msgs = _reasoning_messages(tpl, msgs, discard_cot)
            try:
                slots.append(_message_slots(tpl, msgs, aligned.system, aligned.tools))
            except TokenizeError as exc:
                results[i] = self.reject(sample, exc.message)
                continue
            todo.append((i, msgs))
        for (i, msgs), encoded in zip(todo, self._ids_of(slots), strict=True):
            if tpl.kind == "reasoning":
                self._add_empty_thoughts(msgs, encoded, discard_cot)
            results[i] = self._supervised(encoded, samples[i].id)
        return [r for r in results if r is not None]

    def _add_empty_thoughts(
        self, msgs: list[dict[str, str]], encoded: list[list[int]], discard_cot: bool
    ) -> None:
        words = self.tpl.thought_words
        turns = [len(msgs) - 2] if discard_cot else range(0, len(msgs), 2)
        for i in turns:
            answer = msgs[i + 1]["content"]
            if words[0].strip() not in answer and words[1].strip() not in answer:
                if not self.tpl.enable_thinking:
                    encoded[i] = encoded[i] + self.thought_ids
                else:
                    encoded[i + 1] = self.thought_ids + encoded[i + 1]

    def _supervised(self, encoded: list[list[int]], sample_id: str) -> Encoded:
        """``SupervisedDatasetProcessor._encode_data_example``."""
        eos = self.tok.eos_token_id
        efficient_eos = self.tpl.efficient_eos
        pairs = [(encoded[i], encoded[i + 1]) for i in range(0, len(encoded), 2)]
        if self.mask_history:
            pairs = pairs[::-1]
        input_ids: list[int] = []
        labels: list[int] = []
        total = 1 if efficient_eos else 0
        for turn, (source, target) in enumerate(pairs):
            if total >= self.cutoff_len:
                break
            s_len, t_len = infer_seqlen(len(source), len(target), self.cutoff_len - total)
            source, target = source[:s_len], target[:t_len]
            total += s_len + t_len
            if self.train_on_prompt:
                s_label = source
            elif efficient_eos and turn != 0:
                s_label = [eos] + [IGNORE_INDEX] * (s_len - 1)
            else:
                s_label = [IGNORE_INDEX] * s_len
            t_label = [IGNORE_INDEX] * t_len if self.mask_history and turn != 0 else target
            if self.mask_history:
                input_ids = source + target + input_ids
                labels = s_label + t_label + labels
            else:
                input_ids += source + target
                labels += s_label + t_label
        if efficient_eos:
            input_ids.append(eos)
            labels.append(eos)
        return Encoded(input_ids, labels, [1] * len(input_ids), sample_id)
