"""The ``swift`` profile: ids and labels as ms-swift 4.6 builds them with its own (``swift``) backend.

What is reproduced (read from ms-swift 4.6.0 as installed from PyPI, ``swift/template/base.py`` -
``_swift_prepare_inputs``, ``_swift_encode``, ``_concat_context_list``, ``_simplify_context_list``,
``_encode_context_list``, ``_add_dynamic_eos``, ``_encode`` - with the ``default`` loss scale
(``swift/loss_scale/base.py``) and the ChatML template metas in ``template/templates/``; compared
with ms-swift's own ``Template.encode`` by bench/profile_oracle.py, and on hand-computed ids):

* consecutive user (or assistant) turns are merged by plain concatenation; a leading system turn is
  the system prompt, else the template's default system; ``system_prefix`` is used when there is a
  system text, ``prefix`` otherwise;
* ``auto_add_bos`` templates (``chatml``) put the tokenizer's own BOS first (untrained) and, when
  the tokenizer appends a separator after text, that separator last (trained) instead of the suffix;
* each round contributes ``prompt`` (query filled in) then the response; between rounds
  ``chat_sep``, after the last response ``suffix`` (unless the answer already ends with a stop
  word); the response and the suffix carry loss, everything else does not; an answer with
  ``train=False`` (ms-swift's ``loss: false``) is not trained;
* adjacent pieces with the same loss flag are joined into one string and each string is tokenized
  on its own (``add_special_tokens=False``);
* ``_add_dynamic_eos``: a masked piece right after a trained one that starts with the suffix's ids
  (``<|im_end|>`` of ``chat_sep``) gets those ids trained; the first label is always ``-100``;
* ``max_length`` with ``truncation_strategy`` ``delete`` (ms-swift's default: the row is dropped,
  here rejected), ``left`` or ``right`` (``_truncate``: the kept row's first label is ``-100``).

With a tokenizer's own chat template (``--template tokenizer``, a ``.jinja`` file, or the
``chat_template`` option) the profile follows ms-swift's ``template_backend='jinja'`` instead
(``_jinja_encode``; compared with ms-swift's own ``Template.encode`` by
tests/chat/profiles/test_profiles_oracle.py):

* OpenAI tool calls become ``tool_call`` turns (``normalize_openai_tool_calls``: the call's tool
  results are put in call order when every id matches) that the agent template (``hermes``) writes
  as ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` lines appended to the
  assistant's text; consecutive user (or assistant) turns are joined; tool results stay ``tool``
  turns; ``tools`` are wrapped as ``{"type": "function", "function": ...}``;
* the system prompt, else the ms-swift template type's default system, is the first message;
* the conversation is rendered once by the chat template (``add_generation_prompt`` when the last
  turn is not the assistant's, so a conversation may end with a user turn) and tokenized once
  without special tokens; **every token is trained** except the first (ms-swift gives the one
  context loss scale 1.0; per-turn ``loss`` flags are not read); then truncation as above.

Not reproduced: agent templates other than ``hermes`` (tools, tool turns - rejected in the swift
backend), multimodal inputs, non-default loss scales, thinking template types. Reasoning is put
inline as ``<think>\\n...\\n</think>\\n\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile, encode_texts
from .hf_bounds import bounded_apply
from .swift_jinja import JINJA_TEMPLATE_TYPES, jinja_conversation, swift_tools

__all__ = ["SWIFT_TEMPLATES", "SwiftProfile"]

_CHATML = {
    "prefix": [],
    "prompt": ["<|im_start|>user\n{{QUERY}}<|im_end|>\n<|im_start|>assistant\n"],
    "chat_sep": ["<|im_end|>\n"],
    "suffix": ["<|im_end|>\n"],
    "system_prefix": ["<|im_start|>system\n{{SYSTEM}}<|im_end|>\n"],
}
SWIFT_TEMPLATES: dict[str, dict[str, Any]] = {
    "chatml": {**_CHATML, "default_system": None, "auto_add_bos": True, "stop_words": []},
    "qwen": {
        **_CHATML,
        "default_system": "You are a helpful assistant.",
        "auto_add_bos": False,
        "stop_words": ["<|endoftext|>"],
    },
    "qwen2_5": {
        **_CHATML,
        "default_system": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        "auto_add_bos": False,
        "stop_words": ["<|endoftext|>"],
    },
}


def _messages(sample: Sample) -> tuple[str | None, list[dict[str, Any]]] | str:
    """(system, user/assistant messages after ``_swift_prepare_inputs``) or why it cannot go."""
    msgs = list(sample.messages)
    system = None
    if msgs and msgs[0].role == "system":
        system, msgs = msgs[0].content, msgs[1:]
    if sample.tools:
        return "tools need ms-swift's agent templates, which this profile does not reproduce"
    out: list[dict[str, Any]] = []
    for m in msgs:
        if m.role not in ("user", "assistant") or m.tool_calls:
            return f"{m.role} turns need ms-swift's agent templates (not reproduced)"
        content = m.content
        if m.reasoning is not None:
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        if out and out[-1]["role"] == m.role:
            out[-1]["content"] += content
        else:
            out.append({"role": m.role, "content": content, "train": m.train})
    if not out or out[0]["role"] != "user" or out[-1]["role"] != "assistant":
        return "ms-swift training rows need user/assistant rounds ending with an answer"
    return system, out


@dataclass
class SwiftProfile(StagedProfile):
    """ms-swift 4.6 SFT encoding; ``template`` is an ms-swift template type (default ``qwen``).
    Option ``truncation_strategy``: ``delete`` (default), ``left`` or ``right``.

    ms-swift's ``jinja`` backend (the tokenizer's own chat template) with option ``chat_template``
    (a Jinja string; ``get_profile`` sets it for ``template="tokenizer"`` or a template file) or
    ``template_backend="jinja"`` (the tokenizer's template). There ``swift_template`` names the
    ms-swift template type whose default system and agent template apply (default
    ``qwen3_nothinking``: no default system, ``hermes``), and ``default_system`` overrides the
    former, as ms-swift's ``--default_system`` does."""

    name = "swift"

    def __post_init__(self) -> None:
        known = {
            "truncation_strategy",
            "chat_template",
            "template_backend",
            "swift_template",
            "default_system",
        }
        unknown = set(self.options) - known
        if unknown:
            raise TokenizeError(f"unknown swift option(s): {', '.join(sorted(unknown))}")
        self.strategy = self.options.get("truncation_strategy", "delete")
        if self.strategy not in ("delete", "left", "right"):
            raise TokenizeError(f"unknown truncation_strategy {self.strategy!r}")
        backend = self.options.get("template_backend")
        if backend not in (None, "swift", "jinja"):
            raise TokenizeError(
                f"unknown template_backend {backend!r}", hint="use 'swift' or 'jinja'"
            )
        self.chat_template: str | None = None
        if self.options.get("chat_template") is not None or backend == "jinja":
            self._init_jinja()
            return
        for key in ("swift_template", "default_system"):
            if key in self.options:
                raise TokenizeError(
                    f"swift option {key!r} is for the jinja backend (a tokenizer's chat template)",
                    hint="name the ms-swift template type as the template instead",
                )
        name = self.template or "qwen"
        if name not in SWIFT_TEMPLATES:
            raise TemplateError(
                f"unknown ms-swift template '{name}'",
                hint=f"use one of: {', '.join(SWIFT_TEMPLATES)}",
            )
        self.meta = SWIFT_TEMPLATES[name]
        self.suffix_ids = encode_texts(self.tokenizer, self.meta["suffix"])[0]
        self.bos: list[int] = []
        self.sep: list[int] = []
        if self.meta["auto_add_bos"]:
            full = list(self.tokenizer.encode("a"))
            single = list(self.tokenizer.encode("a", add_special_tokens=False))
            at = full.index(single[0])
            self.bos, self.sep = full[:at], full[at + 1 :]
        stops = list(self.meta["stop_words"])
        suffix_stop = self.meta["suffix"][-1].strip()
        self.stop_words = [*stops, suffix_stop] if suffix_stop not in stops else stops

    def _init_jinja(self) -> None:
        """ms-swift's ``template_backend='jinja'``: the tokenizer's (or the given) chat template."""
        tpl = self.options.get("chat_template") or getattr(self.tokenizer, "chat_template", None)
        if not isinstance(tpl, str):
            raise TemplateError(
                "the tokenizer has no chat template for ms-swift's jinja backend",
                hint="pass --template with a .jinja file, or name an ms-swift template type",
            )
        if self.template is not None:
            raise TokenizeError(
                f"ms-swift template '{self.template}' and a chat template were both given",
                hint="the jinja backend renders with the chat template; use option swift_template "
                "for the ms-swift template type",
            )
        self.chat_template = tpl
        kind = self.options.get("swift_template", "qwen3_nothinking")
        if kind not in JINJA_TEMPLATE_TYPES:
            raise TemplateError(
                f"unknown ms-swift template type '{kind}' for the jinja backend",
                hint=f"use one of: {', '.join(JINJA_TEMPLATE_TYPES)}",
            )
        self.default_system, self.agent_template = JINJA_TEMPLATE_TYPES[kind]
        if "default_system" in self.options:
            self.default_system = self.options["default_system"]

    def _jinja_plan(self, samples: list[Sample]) -> tuple[Any, list[str]]:
        """``_jinja_encode``: per sample the index of its rendered text, or a Rejected."""
        from jinja2 import TemplateError as JinjaError

        template = self.chat_template
        assert template is not None  # the jinja backend is chosen only with a template
        plans: list[Any] = []
        texts: list[str] = []
        for s in samples:
            prepared = jinja_conversation(s, self.default_system, self.agent_template)
            if isinstance(prepared, str):
                plans.append(self.reject(s, prepared))
                continue
            messages, add_generation_prompt = prepared
            kwargs: dict[str, Any] = {}
            if s.tools:
                kwargs["tools"] = swift_tools(s.tools)
            try:
                # bounded like every render (chat/jinja_bounds.py): a sample that drives the
                # template past its bounds is rejected with the reason
                text = bounded_apply(
                    self.tokenizer,
                    messages,
                    chat_template=template,
                    name=self.name,
                    tokenize=False,
                    add_generation_prompt=add_generation_prompt,
                    **kwargs,
                )
            except (TemplateError, JinjaError, TypeError, ValueError) as exc:
                # raise_exception, or an error inside the template (``tojson`` of an undefined
                # value...): ms-swift's encode raises the same, so the row is not trained
                plans.append(self.reject(s, f"the chat template refused it: {exc}"))
                continue
            if not text:
                plans.append(self.reject(s, "the chat template rendered nothing"))
                continue
            plans.append(len(texts))
            texts.append(text)
        return plans, texts

    def _jinja_build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]]
    ) -> list[Encoded | Rejected]:
        """One context with loss scale 1.0: every token is a label, then the first is not."""
        out: list[Encoded | Rejected] = []
        for s, k in zip(samples, plan, strict=True):
            if isinstance(k, Rejected):
                out.append(k)
                continue
            row = list(ids[k])
            labels = [IGNORE_INDEX, *row[1:]]
            out.append(self._truncate(s, row, labels))
        return out

    def _pieces(self, system: str | None, msgs: list[dict[str, Any]]) -> list[tuple[str, float]]:
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
            trained = 0.0 if msgs[2 * i + 1]["train"] is False else 1.0
            raw += [(p.replace("{{QUERY}}", query), 0.0) for p in meta["prompt"]]
            raw.append((response, trained))
            if i < n_round - 1:
                raw += [(p, 0.0) for p in meta["chat_sep"]]
            elif not self.sep and not any(response.endswith(w) for w in self.stop_words):
                raw += [(p, trained) for p in meta["suffix"]]
        merged: list[tuple[str, float]] = []
        for text, loss in raw:
            if not text and loss == 0.0:
                continue  # _concat_context_list skips empty pieces
            if merged and merged[-1][1] == loss:
                merged[-1] = (merged[-1][0] + text, loss)
            else:
                merged.append((text, loss))
        return merged

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        """Per sample a Rejected or its pieces as (index of the text, trained)."""
        if self.chat_template is not None:
            return self._jinja_plan(samples)
        index: dict[str, int] = {}
        plans: list[Any] = []
        for s in samples:
            prepared = _messages(s)
            if isinstance(prepared, str):
                plans.append(self.reject(s, prepared))
                continue
            if len(prepared[1]) % 2:
                plans.append(self.reject(s, "user/assistant turns do not pair up"))
                continue
            pieces = []
            for text, loss in self._pieces(*prepared):
                # each distinct text once: its position among the chunk's texts
                pieces.append((index.setdefault(text, len(index)), loss > 0))
            plans.append(pieces)
        return plans, list(index)

    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: Any
    ) -> list[Encoded | Rejected]:
        if self.chat_template is not None:
            return self._jinja_build(samples, plan, ids)
        out: list[Encoded | Rejected] = []
        for s, pieces in zip(samples, plan, strict=True):
            if isinstance(pieces, Rejected):
                out.append(pieces)
                continue
            row: list[int] = list(self.bos)
            labels: list[int] = [IGNORE_INDEX] * len(self.bos)
            for k, trained in pieces:
                piece = ids[k]
                row += piece
                labels += piece if trained else [IGNORE_INDEX] * len(piece)
            row += self.sep
            labels += self.sep
            self._add_dynamic_eos(row, labels)
            if labels:
                labels[0] = IGNORE_INDEX
            out.append(self._truncate(s, row, labels))
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
            if labels:
                labels[0] = IGNORE_INDEX  # ms-swift's _truncate masks the new first token too
        return Encoded(ids, labels, [1] * len(ids), sample.id)
