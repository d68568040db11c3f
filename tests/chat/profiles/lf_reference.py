"""The llamafactory profile's first, straightforward implementation, kept as a reference.

Each message is formatted slot by slot (``StringFormatter.apply``), every string slot is tokenized
on its own with ``tokenizer.encode(..., add_special_tokens=False)``, and rows come from
``_encode_data_example`` read line by line. The profile itself runs a compiled, batched, threaded
form of the same steps; test_profiles_staged.py checks they give the same rows.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from sftforge.chat.profiles import Encoded, Rejected
from sftforge.chat.profiles.llamafactory import (
    _reasoning_messages,
    align_lf_record,
    infer_seqlen,
    to_lf_record,
)
from sftforge.chat.profiles.llamafactory_templates import BOS, EOS, LFTemplate, Slot, Tok
from sftforge.chat.profiles.llamafactory_tools import format_function_call, format_tools
from sftforge.errors import TokenizeError
from sftforge.sample import Sample

IGNORE_INDEX = -100


def fix_special_tokens(tokenizer: Any, tpl: LFTemplate) -> Any:
    tokenizer = deepcopy(tokenizer)
    stop_words = tpl.stop_words
    if tpl.replace_eos:
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
        except TypeError:  # transformers 5 dropped the keyword (and no longer replaces)
            tokenizer.add_special_tokens({"additional_special_tokens": stop_words})
    return tokenizer


def fill(slots: list[Slot], **kwargs: str) -> list[Slot]:
    out: list[Slot] = []
    for slot in slots:
        if isinstance(slot, str):
            for name, value in kwargs.items():
                slot = slot.replace("{{" + name + "}}", value, 1)
        out.append(slot)
    return out


def message_slots(
    tpl: LFTemplate, messages: list[dict[str, str]], system: str, tools: str
) -> list[list[Slot]]:
    system = system or tpl.default_system
    out: list[list[Slot]] = []
    for i, msg in enumerate(messages):
        elements: list[Slot] = []
        system_text = ""
        if i == 0:
            elements += tpl.prefix
            if system or tools:
                tool_text = format_tools(tools, tpl.tools_tool_format) if tools else ""
                filled = fill(tpl.system, content=system + tool_text)
                if tpl.kind == "llama2":
                    system_text = filled[0] if isinstance(filled[0], str) else ""
                else:
                    elements += filled
        role, content = msg["role"], msg["content"]
        if role == "user":
            if tpl.kind == "llama2":
                elements += fill(tpl.user, content=system_text + content)
            else:
                elements += fill(tpl.user, content=content, idx=str(i // 2))
        elif role == "assistant":
            elements += fill(tpl.assistant, content=content)
        elif role == "observation":
            elements += fill(tpl.observation, content=content)
        else:
            if tpl.kind == "llama2":
                text = format_function_call(content, tpl.function_tool_format, None, None)
            else:
                text = format_function_call(
                    content, tpl.function_tool_format, tpl.thought_words, tpl.tool_call_words
                )
            elements += fill(tpl.function, content=text)
        out.append(elements)
    return out


def reference_rows(
    tokenizer: Any,
    tpl: LFTemplate,
    samples: list[Sample],
    *,
    cutoff_len: int,
    train_on_prompt: bool = False,
    mask_history: bool = False,
) -> list[tuple[list[int], list[int]] | str]:
    """(input_ids, labels) per sample, or the reason it is dropped. ``tpl`` has its options set."""
    tok = fix_special_tokens(tokenizer, tpl)

    def ids_of(el: Slot) -> list[int]:
        if isinstance(el, Tok):
            return [tok.convert_tokens_to_ids(el.name)]
        if el == BOS:
            return [] if tok.bos_token_id is None else [tok.bos_token_id]
        if el == EOS:
            return [] if tok.eos_token_id is None else [tok.eos_token_id]
        assert isinstance(el, str)
        return list(tok.encode(el, add_special_tokens=False)) if el else []

    discard_cot = mask_history and not tpl.preserve_thinking
    words = tpl.thought_words
    thought = list(tok.encode(words[0] + words[1], add_special_tokens=False))
    out: list[tuple[list[int], list[int]] | str] = []
    for sample in samples:
        if sample.media:
            out.append("media are not reproduced by the llamafactory profile")
            continue
        aligned = align_lf_record(to_lf_record(sample))
        if isinstance(aligned, str):
            out.append(aligned)
            continue
        msgs = aligned.messages
        if tpl.kind == "reasoning":
            msgs = _reasoning_messages(tpl, msgs, discard_cot)
        try:
            slots = message_slots(tpl, msgs, aligned.system, aligned.tools)
        except TokenizeError as exc:
            out.append(exc.message)
            continue
        encoded = [[t for el in elements for t in ids_of(el)] for elements in slots]
        if tpl.kind == "reasoning":
            turns = [len(msgs) - 2] if discard_cot else range(0, len(msgs), 2)
            for i in turns:
                answer = msgs[i + 1]["content"]
                if words[0].strip() not in answer and words[1].strip() not in answer:
                    if not tpl.enable_thinking:
                        encoded[i] = encoded[i] + thought
                    else:
                        encoded[i + 1] = thought + encoded[i + 1]
        out.append(
            supervised(encoded, tpl, tok.eos_token_id, cutoff_len, train_on_prompt, mask_history)
        )
    return out


def supervised(
    encoded: list[list[int]],
    tpl: LFTemplate,
    eos: Any,
    cutoff_len: int,
    train_on_prompt: bool,
    mask_history: bool,
) -> tuple[list[int], list[int]]:
    """``SupervisedDatasetProcessor._encode_data_example``."""
    efficient_eos = tpl.efficient_eos
    pairs = [(encoded[i], encoded[i + 1]) for i in range(0, len(encoded), 2)]
    if mask_history:
        pairs = pairs[::-1]
    input_ids: list[int] = []
    labels: list[int] = []
    total = 1 if efficient_eos else 0
    for turn, (source, target) in enumerate(pairs):
        if total >= cutoff_len:
            break
        s_len, t_len = infer_seqlen(len(source), len(target), cutoff_len - total)
        source, target = source[:s_len], target[:t_len]
        total += s_len + t_len
        if train_on_prompt:
            s_label = source
        elif efficient_eos and turn != 0:
            s_label = [eos] + [IGNORE_INDEX] * (s_len - 1)
        else:
            s_label = [IGNORE_INDEX] * s_len
        t_label = [IGNORE_INDEX] * t_len if mask_history and turn != 0 else target
        if mask_history:
            input_ids = source + target + input_ids
            labels = s_label + t_label + labels
        else:
            input_ids += source + target
            labels += s_label + t_label
    if efficient_eos:
        input_ids.append(eos)
        labels.append(eos)
    return input_ids, labels


def as_pairs(rows: list[Encoded | Rejected]) -> list[tuple[list[int], list[int]] | str]:
    """The profile's rows in reference form (a reject becomes its reason)."""
    return [(r.input_ids, r.labels) if isinstance(r, Encoded) else r.reason for r in rows]
