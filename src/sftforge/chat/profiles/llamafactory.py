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
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, cast

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile, TextEncoder, encode_texts
from .llamafactory_choice import (
    apply_tool_format,
    check_lf_options,
    choose_lf_template,
    parse_chat_template,
)
from .llamafactory_templates import BOS, EOS, LFTemplate, Slot, Tok
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


def _fix_special_tokens(tokenizer: Any, tpl: LFTemplate) -> Any:
    """``Template.fix_special_tokens`` on a copy, so the caller's tokenizer is left alone.

    The copy is only made when something would change; otherwise the tokenizer itself is used.
    """
    stop_words = tpl.stop_words
    if tpl.replace_eos:
        if not stop_words:
            raise TokenizeError(f"template '{tpl.name}' replaces EOS but has no stop words")
        changes_eos = tokenizer.eos_token != stop_words[0]
        stop_words = stop_words[1:]
    else:
        changes_eos = False
    if not (
        changes_eos
        or stop_words
        or tokenizer.eos_token_id is None
        or tokenizer.pad_token_id is None
    ):
        return tokenizer
    tokenizer = deepcopy(tokenizer)
    if changes_eos:
        tokenizer.add_special_tokens({"eos_token": tpl.stop_words[0]})
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


# A compiled slot: (_IDS, const index, "") | (_FILL, text before {{content}}, text after) |
# (_TEXT, the slot's text, "") for a slot without {{content}} whose text can still change
# (a user slot holding {{idx}}).
_IDS, _FILL, _TEXT = 0, 1, 2
_Compiled = list[tuple[int, Any, str]]


@dataclass
class LlamaFactoryProfile(StagedProfile):
    """LLaMA-Factory 0.9.5 SFT encoding. Options (LLaMA-Factory's names, checked by
    :func:`~.llamafactory_choice.check_lf_options`): ``train_on_prompt``, ``mask_history``,
    ``enable_thinking`` (default True), ``preserve_thinking``, ``default_system``, ``tool_format``.
    ``max_length`` is ``cutoff_len`` (LLaMA-Factory's default 2048 when ``None`` is not asked for).
    The template is :func:`~.llamafactory_choice.choose_lf_template`'s, the decision the export
    writes into its config.

    How it runs: each role's slots are compiled once into constant ids (BOS/EOS/named tokens, and
    strings without placeholders, tokenized once) and text pieces filled by concatenation; per
    chunk, every distinct filled string is tokenized once (each on its own, as LLaMA-Factory
    tokenizes each slot); a row is then assembled from its pieces' ids. The straightforward
    per-slot form this replaces is kept in tests/chat/profiles/lf_reference.py, which the tests
    compare it with.
    """

    name = "llamafactory"

    def __post_init__(self) -> None:
        # the one template decision and option check, shared with export --for llamafactory
        opts = check_lf_options(self.options)
        tpl = choose_lf_template(self.tokenizer, self.template).build(self.tokenizer)
        self.train_on_prompt = bool(opts.get("train_on_prompt", False))
        self.mask_history = bool(opts.get("mask_history", False))
        if self.train_on_prompt and tpl.efficient_eos:
            raise TokenizeError(f"template '{tpl.name}' does not support `train_on_prompt`")
        if opts.get("tool_format") is not None:
            apply_tool_format(tpl, opts["tool_format"])
        if opts.get("default_system") is not None:
            tpl.default_system = opts["default_system"]
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
        self._compile()

    # -- compiled slots ----------------------------------------------------------------------
    def _compile(self) -> None:
        """The tokenizer's special ids, read once, and every role's slots in compiled form."""
        tpl = self.tpl
        self.eos_id: int | None = self.tok.eos_token_id
        self.bos_id: int | None = self.tok.bos_token_id
        const_texts: list[str] = []
        const_ids: list[list[int] | None] = []  # None: the ids of const_texts[k], filled below

        def const(ids: list[int] | None, text: str = "") -> list[tuple[int, Any, str]]:
            if ids is None:
                if not text:
                    return []
                const_texts.append(text)
            elif not ids:
                return []
            const_ids.append(ids)
            return [(_IDS, len(const_ids) - 1, "")]

        def compile_slots(
            slots: list[Slot], with_idx: bool = False, raw: bool = False
        ) -> _Compiled:
            """``raw``: strings are used as they are (the prefix is never filled)."""
            out: _Compiled = []
            for slot in slots:
                if isinstance(slot, Tok):
                    out += const([self.tok.convert_tokens_to_ids(slot.name)])
                elif slot == BOS:
                    out += const([] if self.bos_id is None else [self.bos_id])
                elif slot == EOS:
                    out += const([] if self.eos_id is None else [self.eos_id])
                elif isinstance(slot, str) and raw:
                    out += const(None, slot)
                elif isinstance(slot, str) and "{{content}}" in slot:
                    pre, _, post = slot.partition("{{content}}")
                    out.append((_FILL, pre, post))
                elif isinstance(slot, str) and with_idx and "{{idx}}" in slot:
                    out.append((_TEXT, slot, ""))
                elif isinstance(slot, str):
                    out += const(None, slot)
                else:
                    raise AssertionError(slot)
            return out

        self._prefix = compile_slots(tpl.prefix, raw=True)
        self._user = compile_slots(tpl.user, with_idx=tpl.kind != "llama2")
        self._assistant = compile_slots(tpl.assistant)
        self._system = compile_slots(tpl.system)
        self._observation = compile_slots(tpl.observation)
        self._function = compile_slots(tpl.function)
        self._thought: _Compiled = []
        if tpl.kind == "reasoning":
            words = tpl.thought_words
            self._thought = const(None, words[0] + words[1])
        texts = iter(encode_texts(self.tok, const_texts))
        ids = [next(texts) if x is None else x for x in const_ids]
        # a chunk's id table is [ids of its strings..., *constants]: constant k sits at k - len
        self._consts = ids
        shift = len(ids)
        for compiled in (self._prefix, self._user, self._assistant, self._system,
                         self._observation, self._function, self._thought):  # fmt: skip
            for i, (kind, a, b) in enumerate(compiled):
                if kind == _IDS:
                    compiled[i] = (kind, a - shift, b)
        self.thought_ids: list[int] = ids[self._thought[0][1] + shift] if self._thought else []
        self._fast = not (self.mask_history or tpl.efficient_eos)

    def _text_encoder(self) -> TextEncoder:
        return TextEncoder(self.tok)

    # -- planning: samples -> pieces ---------------------------------------------------------
    def _stream_state(self) -> _Shared:
        return _Shared()

    def _plan(self, samples: list[Sample], state: _Shared) -> tuple[Any, list[str]]:
        """Per sample a Rejected or, per message, the pieces of its ids (indices into the table),
        then what the chunk shares with earlier ones."""
        tpl = self.tpl
        discard_cot = self.mask_history and not tpl.preserve_thinking
        chunk = _ChunkTexts(state, len(self._consts))
        plans: list[Any] = []
        for sample in samples:
            if sample.media:
                plans.append(
                    self.reject(sample, "media are not reproduced by the llamafactory profile")
                )
                continue
            aligned = align_lf_record(to_lf_record(sample))
            if isinstance(aligned, str):
                plans.append(self.reject(sample, aligned))
                continue
            msgs = aligned.messages
            if tpl.kind == "reasoning":
                msgs = _reasoning_messages(tpl, msgs, discard_cot)
            try:
                pieces = self._pieces(msgs, aligned.system, aligned.tools, chunk, state)
            except TokenizeError as exc:
                plans.append(self.reject(sample, exc.message))
                continue
            if tpl.kind == "reasoning":
                self._add_empty_thoughts(msgs, pieces, discard_cot)
            plans.append(pieces)
        return (plans, chunk), chunk.texts()

    def _pieces(
        self,
        messages: list[dict[str, str]],
        system: str,
        tools: str,
        chunk: _ChunkTexts,
        state: _Shared,
    ) -> list[list[int]]:
        """``Template._encode`` (and ``Llama2Template._encode``) in compiled form."""
        tpl = self.tpl
        llama2 = tpl.kind == "llama2"
        system = system or tpl.default_system
        out: list[list[int]] = []
        for i, msg in enumerate(messages):
            pieces: list[int] = []
            system_text = ""
            if i == 0:
                _put(self._prefix, "", None, pieces, chunk)
                if system or tools:
                    tool_text = ""
                    if tools:
                        tool_text = state.tools_text.get(tools)  # type: ignore[assignment]
                        if tool_text is None:
                            tool_text = format_tools(tools, tpl.tools_tool_format)
                            if len(state.tools_text) < _SHARED_MAX:
                                state.tools_text[tools] = tool_text
                    if llama2:
                        filled = _fill(tpl.system, content=system + tool_text)
                        system_text = filled[0] if isinstance(filled[0], str) else ""
                    else:
                        _put(self._system, system + tool_text, None, pieces, chunk)
            role, content = msg["role"], msg["content"]
            if role == "user":
                if llama2:
                    _put(self._user, system_text + content, None, pieces, chunk)
                else:
                    _put(self._user, content, str(i // 2), pieces, chunk)
            elif role == "assistant":
                _put(self._assistant, content, None, pieces, chunk)
            elif role == "observation":
                _put(self._observation, content, None, pieces, chunk)
            else:  # function
                if llama2:  # Llama2Template passes no thought/tool-call words
                    text = format_function_call(content, tpl.function_tool_format, None, None)
                else:
                    text = format_function_call(
                        content, tpl.function_tool_format, tpl.thought_words, tpl.tool_call_words
                    )
                _put(self._function, text, None, pieces, chunk)
            out.append(pieces)
        return out

    def _add_empty_thoughts(
        self, msgs: list[dict[str, str]], pieces: list[list[int]], discard_cot: bool
    ) -> None:
        """``ReasoningTemplate.encode_multiturn``: the empty thought for answers without one."""
        words = self.tpl.thought_words
        thought = self._thought[0][1]
        turns = [len(msgs) - 2] if discard_cot else range(0, len(msgs), 2)
        for i in turns:
            answer = msgs[i + 1]["content"]
            if words[0].strip() not in answer and words[1].strip() not in answer:
                if not self.tpl.enable_thinking:
                    pieces[i].append(thought)
                else:
                    pieces[i + 1].insert(0, thought)

    # -- building: pieces -> rows ------------------------------------------------------------
    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: _Shared
    ) -> list[Encoded | Rejected]:
        plans, chunk = plan
        table = chunk.table(ids, self._consts)
        out: list[Encoded | Rejected] = []
        for sample, pieces in zip(samples, plans, strict=True):
            if isinstance(pieces, Rejected):
                out.append(pieces)
            elif self._fast:
                out.append(self._row(table, pieces, sample.id))
            else:
                out.append(self._supervised([_cat(table, p) for p in pieces], sample.id))
        return out

    def _row(self, table: list[list[int]], msgs: list[list[int]], sample_id: str) -> Encoded:
        """``_supervised`` without ``mask_history`` and ``efficient_eos`` (the same rows)."""
        cutoff = self.cutoff_len
        input_ids: list[int] = []
        labels: list[int] = []
        total = 0
        for k in range(0, len(msgs), 2):
            if total >= cutoff:
                break
            source, target = _cat(table, msgs[k]), _cat(table, msgs[k + 1])
            s_len, t_len = len(source), len(target)
            if s_len + t_len > cutoff - total:
                s_len, t_len = infer_seqlen(s_len, t_len, cutoff - total)
                source, target = source[:s_len], target[:t_len]
            total += s_len + t_len
            input_ids += source
            input_ids += target
            labels += source if self.train_on_prompt else [IGNORE_INDEX] * s_len
            labels += target
        return Encoded(input_ids, labels, [1] * len(input_ids), sample_id)

    def _supervised(self, encoded: list[list[int]], sample_id: str) -> Encoded:
        """``SupervisedDatasetProcessor._encode_data_example``."""
        eos: Any = self.eos_id
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


def _put(
    compiled: _Compiled, content: str, idx: str | None, out: list[int], chunk: _ChunkTexts
) -> None:
    """``StringFormatter.apply`` on compiled slots: each slot's pieces appended to ``out``.

    ``{{content}}`` is replaced once, then ``{{idx}}`` once (in the filled text, as LLaMA-Factory
    does); each non-empty string becomes its position in the chunk's table (:class:`_ChunkTexts`).
    """
    for kind, a, b in compiled:
        if kind == _IDS:
            out.append(a)
            continue
        text = a + content + b if kind == _FILL else a
        if idx is not None and "{{idx}}" in text:
            text = text.replace("{{idx}}", idx, 1)
        if text:
            k = chunk.index.get(text)
            out.append(chunk.add(text) if k is None else k)


# A stream remembers the ids of at most this many texts for the chunks after the one that
# tokenized them (tool lists, system prompts, answers that repeat); beyond it, each chunk
# tokenizes its own.
_SHARED_MAX = 16384


class _Shared:
    """What the chunks of one stream share: texts already tokenized, formatted tool lists.

    ``ids[text]`` is a one-item list that the chunk tokenizing ``text`` fills when it is built;
    a later chunk is always built after it (chunks are built in order), so it finds it filled.
    """

    def __init__(self) -> None:
        self.ids: dict[str, list[list[int] | None]] = {}
        self.tools_text: dict[str, str] = {}


class _ChunkTexts:
    """One chunk's strings: ``index`` (tokenized with the chunk: table positions 0, 1, ...) and
    those an earlier chunk of the stream tokenized (negative positions, before the constants)."""

    def __init__(self, shared: _Shared, n_consts: int) -> None:
        self.shared = shared
        self.index: dict[str, int] = {}
        self.n_consts = n_consts
        self.earlier: list[list[list[int] | None]] = []
        self.filled_here: list[tuple[int, list[list[int] | None]]] = []

    def add(self, text: str) -> int:
        """The table position of a text not yet in ``index``."""
        holder = self.shared.ids.get(text)
        if holder is not None:  # tokenized by an earlier chunk
            self.earlier.append(holder)
            k = self.index[text] = -(self.n_consts + len(self.earlier))
            return k
        k = self.index[text] = len(self.index) - len(self.earlier)
        if len(self.shared.ids) < _SHARED_MAX:
            holder = [None]
            self.shared.ids[text] = holder
            self.filled_here.append((k, holder))
        return k

    def texts(self) -> list[str]:
        """The strings this chunk tokenizes, in table order."""
        return [t for t, k in self.index.items() if k >= 0]

    def table(self, ids: list[list[int]], consts: list[list[int]]) -> list[list[int]]:
        """``[ids of this chunk's strings, ids from earlier chunks (last first), constants]``."""
        for k, holder in self.filled_here:
            holder[0] = ids[k]
        earlier = [cast("list[int]", h[0]) for h in reversed(self.earlier)]
        return ids + earlier + consts


def _cat(table: list[list[int]], pieces: list[int]) -> list[int]:
    """The ids of a message: its pieces' ids joined (the table's own list when there is one)."""
    if len(pieces) == 1:
        return table[pieces[0]]
    out: list[int] = []
    for p in pieces:
        out += table[p]
    return out
