"""The ``swift`` profile: ids and labels as ms-swift 3.x builds them with its own (``swift``) backend.

What is reproduced (read from modelscope/ms-swift ``swift/llm/template/base.py`` -
``_swift_prepare_inputs``, ``_swift_encode``, ``_concat_context_list``, ``_simplify_context_list``,
``_encode_context_list``, ``_add_dynamic_eos``, ``_encode`` - with the ``default`` loss scale, and
the ChatML template metas in ``template/qwen.py``/``utils.py``; not run against ms-swift, which
is not installed here - tested on hand-computed ids):

* consecutive user (or assistant) turns are merged by plain concatenation; a leading system turn is
  the system prompt, else the template's default system; ``system_prefix`` is used when there is a
  system text, ``prefix`` otherwise;
* each round contributes ``prompt`` (query filled in) then the response; between rounds
  ``chat_sep``, after the last response ``suffix``; the response and the suffix carry loss,
  everything else does not;
* adjacent pieces with the same loss flag are joined into one string and each string is tokenized
  on its own (``add_special_tokens=False``);
* ``_add_dynamic_eos``: a masked piece right after a trained one that starts with the suffix's ids
  (``<|im_end|>`` of ``chat_sep``) gets those ids trained; the first label is always ``-100``;
* ``max_length`` with ``truncation_strategy`` ``delete`` (ms-swift's default: the row is dropped,
  here rejected), ``left`` or ``right``.

Not reproduced: agent templates (tools, tool turns - rejected), multimodal inputs, non-default
loss scales, the ``jinja`` backend. Reasoning is put inline as ``<think>\\n...\\n</think>\\n\\n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Profile, Rejected, encode_texts

__all__ = ["SWIFT_TEMPLATES", "SwiftProfile"]

_CHATML = {
    "prefix": [],
    "prompt": ["<|im_start|>user\n{{QUERY}}<|im_end|>\n<|im_start|>assistant\n"],
    "chat_sep": ["<|im_end|>\n"],
    "suffix": ["<|im_end|>"],
    "system_prefix": ["<|im_start|>system\n{{SYSTEM}}<|im_end|>\n"],
}
SWIFT_TEMPLATES: dict[str, dict[str, Any]] = {
    "chatml": {**_CHATML, "default_system": None},
    "qwen": {**_CHATML, "default_system": "You are a helpful assistant."},
    "qwen2_5": {
        **_CHATML,
        "default_system": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    },
}


def _messages(sample: Sample) -> tuple[str | None, list[dict[str, str]]] | str:
    """(system, user/assistant messages after ``_swift_prepare_inputs``) or why it cannot go."""
    msgs = list(sample.messages)
    system = None
    if msgs and msgs[0].role == "system":
        system, msgs = msgs[0].content, msgs[1:]
    if sample.tools:
        return "tools need ms-swift's agent templates, which this profile does not reproduce"
    out: list[dict[str, str]] = []
    for m in msgs:
        if m.role not in ("user", "assistant") or m.tool_calls:
            return f"{m.role} turns need ms-swift's agent templates (not reproduced)"
        content = m.content
        if m.reasoning is not None:
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        if out and out[-1]["role"] == m.role:
            out[-1]["content"] += content
        else:
            out.append({"role": m.role, "content": content})
    if not out or out[0]["role"] != "user" or out[-1]["role"] != "assistant":
        return "ms-swift training rows need user/assistant rounds ending with an answer"
    return system, out


@dataclass
class SwiftProfile(Profile):
    """ms-swift 3.x SFT encoding; ``template`` is an ms-swift template type (default ``qwen``).
    Option ``truncation_strategy``: ``delete`` (default), ``left`` or ``right``."""

    name = "swift"

    def __post_init__(self) -> None:
        unknown = set(self.options) - {"truncation_strategy"}
        if unknown:
            raise TokenizeError(f"unknown swift option(s): {', '.join(sorted(unknown))}")
        name = self.template or "qwen"
        if name not in SWIFT_TEMPLATES:
            raise TemplateError(
                f"unknown ms-swift template '{name}'",
                hint=f"use one of: {', '.join(SWIFT_TEMPLATES)}",
            )
        self.meta = SWIFT_TEMPLATES[name]
        self.strategy = self.options.get("truncation_strategy", "delete")
        if self.strategy not in ("delete", "left", "right"):
            raise TokenizeError(f"unknown truncation_strategy {self.strategy!r}")
        self.suffix_ids = encode_texts(self.tokenizer, self.meta["suffix"])[0]

    def _pieces(self, system: str | None, msgs: list[dict[str, str]]) -> list[tuple[str, float]]:
        """``_swift_encode`` + default loss scale + ``_simplify_context_list``: (text, loss)."""
        meta = self.meta
        if system is None:
            system = meta["default_system"]
        raw: list[tuple[str, float]] = []
        prefix = meta["system_prefix"] if system else meta["prefix"]
        raw += [(p.replace("{{SYSTEM}}", system or ""), 0.0) for p in prefix]
        n_round = len(msgs) // 2
        for i in range(n_round):
            query, response = msgs[2 * i]["content"], msgs[2 * i + 1]["content"]
            raw += [(p.replace("{{QUERY}}", query), 0.0) for p in meta["prompt"]]
            raw.append((response, 1.0))
            if i < n_round - 1:
                raw += [(p, 0.0) for p in meta["chat_sep"]]
            else:
                raw += [(p, 1.0) for p in meta["suffix"]]
        merged: list[tuple[str, float]] = []
        for text, loss in raw:
            if not text and loss == 0.0:
                continue  # _concat_context_list skips empty pieces
            if merged and merged[-1][1] == loss:
                merged[-1] = (merged[-1][0] + text, loss)
            else:
                merged.append((text, loss))
        return merged

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        out: list[Encoded | Rejected] = []
        for s in samples:
            prepared = _messages(s)
            if isinstance(prepared, str):
                out.append(self.reject(s, prepared))
                continue
            if len(prepared[1]) % 2:
                out.append(self.reject(s, "user/assistant turns do not pair up"))
                continue
            pieces = self._pieces(*prepared)
            ids_list = encode_texts(self.tokenizer, [p for p, _ in pieces])
            ids: list[int] = []
            labels: list[int] = []
            for (_, loss), piece in zip(pieces, ids_list, strict=True):
                ids += piece
                labels += piece if loss > 0 else [IGNORE_INDEX] * len(piece)
            self._add_dynamic_eos(ids, labels)
            if labels:
                labels[0] = IGNORE_INDEX
            out.append(self._truncate(s, ids, labels))
        return out

    def _add_dynamic_eos(self, ids: list[int], labels: list[int]) -> None:
        suffix = self.suffix_ids
        n, start = len(suffix), 0
        for i in range(1, len(labels)):
            if labels[i - 1] >= 0 and labels[i] == IGNORE_INDEX:
                start = i
            closes = start > 0 and labels[i - 1] == IGNORE_INDEX and labels[i] >= 0
            if closes and i - start >= n and ids[start : start + n] == suffix:
                labels[start : start + n] = suffix

    def _truncate(self, sample: Sample, ids: list[int], labels: list[int]) -> Encoded | Rejected:
        if self.max_length is not None and len(ids) > self.max_length:
            if self.strategy == "delete":
                return self.reject(
                    sample, f"{len(ids)} tokens > max_length {self.max_length} (deleted)"
                )
            sl = (
                slice(-self.max_length, None)
                if self.strategy == "left"
                else slice(None, self.max_length)
            )
            ids, labels = ids[sl], labels[sl]
        return Encoded(ids, labels, [1] * len(ids), sample.id)
