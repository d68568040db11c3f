"""LLaMA-Factory's chat templates, as data: slots per role, stop words, EOS handling.

Reproduced from LLaMA-Factory 0.9.5 (``llamafactory/data/template.py``, ``register_template`` and
the templates registered there; ``formatter.py`` for slot filling). A slot list mixes plain strings
(``{{content}}`` is replaced once), ``BOS``/``EOS`` (the tokenizer's bos/eos id, skipped when the
tokenizer has none) and ``Tok(name)`` (``convert_tokens_to_ids(name)``). Every string slot is
tokenized on its own, which is why LLaMA-Factory's ids can differ from a render-then-tokenize pass.

Only a subset of LLaMA-Factory's ~100 templates is carried: the common text ones. Multimodal plugins
are not reproduced (the profile rejects samples with media).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...errors import TemplateError

__all__ = ["BOS", "EOS", "LF_TEMPLATES", "LFTemplate", "Slot", "Tok", "get_lf_template"]


@dataclass(frozen=True, slots=True)
class _Special:
    which: Literal["bos", "eos"]


@dataclass(frozen=True, slots=True)
class Tok:
    """A slot holding one named token (LLaMA-Factory's ``{"token": name}``)."""

    name: str


BOS = _Special("bos")
EOS = _Special("eos")
Slot = str | _Special | Tok
Kind = Literal["plain", "llama2", "reasoning"]


@dataclass
class LFTemplate:
    """One template with ``register_template``'s defaults already applied."""

    name: str
    user: list[Slot]
    assistant: list[Slot]
    system: list[Slot]
    function: list[Slot]
    observation: list[Slot]
    prefix: list[Slot]
    function_tool_format: str = "default"
    tools_tool_format: str = "default"
    default_system: str = ""
    stop_words: list[str] = field(default_factory=list)
    thought_words: tuple[str, str] = ("<think>\n", "\n</think>\n\n")
    tool_call_words: tuple[str, str] = ("<tool_call>", "</tool_call>")
    efficient_eos: bool = False
    replace_eos: bool = False
    enable_thinking: bool | None = True
    preserve_thinking: bool = False
    kind: Kind = "plain"


def _register(
    name: str,
    *,
    user: list[Slot] | None = None,
    assistant: list[Slot] | None = None,
    system: list[Slot] | None = None,
    function: list[Slot] | None = None,
    function_tool_format: str | None = None,
    observation: list[Slot] | None = None,
    tools_tool_format: str = "default",
    prefix: list[Slot] | None = None,
    default_system: str = "",
    stop_words: list[str] | None = None,
    efficient_eos: bool = False,
    replace_eos: bool = False,
    kind: Kind = "plain",
) -> LFTemplate:
    # register_template: the assistant default depends on efficient_eos; the function formatter
    # defaults to the assistant slots with the "default" tool format; observation falls back to
    # the user formatter; system falls back to the plain {{content}} formatter.
    default_slots: list[Slot] = ["{{content}}"] if efficient_eos else ["{{content}}", EOS]
    fn_slots = function if function is not None else list(assistant or default_slots)
    return LFTemplate(
        name=name,
        user=user or ["{{content}}"],
        assistant=assistant or default_slots,
        system=system or ["{{content}}"],
        function=fn_slots,
        function_tool_format=function_tool_format or "default",
        observation=observation or user or ["{{content}}"],
        tools_tool_format=tools_tool_format,
        prefix=prefix or [],
        default_system=default_system,
        stop_words=stop_words or [],
        efficient_eos=efficient_eos,
        replace_eos=replace_eos,
        kind=kind,
    )


_IM_USER = "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"
_IM_ASSISTANT = "{{content}}<|im_end|>\n"
_IM_SYSTEM = "<|im_start|>system\n{{content}}<|im_end|>\n"
_QWEN_OBS = "<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"


def _qwen_like(name: str, default_system: str, kind: Kind) -> LFTemplate:
    return _register(
        name,
        user=[_IM_USER],
        assistant=[_IM_ASSISTANT],
        system=[_IM_SYSTEM],
        function=[_IM_ASSISTANT],
        function_tool_format="qwen",
        observation=[_QWEN_OBS],
        tools_tool_format="qwen",
        default_system=default_system,
        stop_words=["<|im_end|>"],
        replace_eos=True,
        kind=kind,
    )


_INTERN2_SYSTEM = (
    "You are an AI assistant whose name is InternLM (书生·浦语).\n"
    "- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI Laboratory "
    "(上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n"
    "- InternLM (书生·浦语) can understand and communicate fluently in the language "
    "chosen by the user such as English and 中文."
)
_LLAMA3_USER = (
    "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_LLAMA3_OBS = (
    "<|start_header_id|>ipython<|end_header_id|>\n\n{{content}}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

LF_TEMPLATES: dict[str, LFTemplate] = {
    t.name: t
    for t in [
        _register(
            "alpaca",
            user=["### Instruction:\n{{content}}\n\n### Response:\n"],
            assistant=["{{content}}", EOS, "\n\n"],
            default_system=(
                "Below is an instruction that describes a task. "
                "Write a response that appropriately completes the request.\n\n"
            ),
        ),
        _register(
            "chatml",
            user=[_IM_USER],
            assistant=[_IM_ASSISTANT],
            system=[_IM_SYSTEM],
            observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
            stop_words=["<|im_end|>", "<|im_start|>"],
            replace_eos=True,
        ),
        _register(
            "chatglm3",
            user=[Tok("<|user|>"), "\n", "{{content}}", Tok("<|assistant|>")],
            assistant=["\n", "{{content}}"],
            system=[Tok("<|system|>"), "\n", "{{content}}"],
            function=["{{content}}"],
            function_tool_format="glm4",
            observation=[Tok("<|observation|>"), "\n", "{{content}}", Tok("<|assistant|>")],
            tools_tool_format="glm4",
            prefix=[Tok("[gMASK]"), Tok("sop")],
            stop_words=["<|user|>", "<|observation|>"],
            efficient_eos=True,
        ),
        _register(
            "default",
            user=["Human: {{content}}", EOS, "\nAssistant:"],
            assistant=["{{content}}", EOS, "\n"],
            system=["System: {{content}}", EOS, "\n"],
        ),
        _register("empty", assistant=["{{content}}"]),
        _register(
            "gemma",
            user=["<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n"],
            assistant=["{{content}}<end_of_turn>\n"],
            system=["{{content}}\n\n"],
            observation=["<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n"],
            prefix=[BOS],
            stop_words=["<end_of_turn>"],
            replace_eos=True,
            kind="llama2",
        ),
        _register(
            "intern2",
            user=[_IM_USER],
            assistant=[_IM_ASSISTANT],
            system=[_IM_SYSTEM],
            prefix=[BOS],
            default_system=_INTERN2_SYSTEM,
            stop_words=["<|im_end|>"],
        ),
        _register(
            "llama2",
            user=[BOS, "[INST] {{content}} [/INST]"],
            system=["<<SYS>>\n{{content}}\n<</SYS>>\n\n"],
            kind="llama2",
        ),
        _register(
            "llama3",
            user=[_LLAMA3_USER],
            assistant=["{{content}}<|eot_id|>"],
            system=["<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>"],
            function=["{{content}}<|eot_id|>"],
            function_tool_format="llama3",
            observation=[_LLAMA3_OBS],
            tools_tool_format="llama3",
            prefix=[BOS],
            stop_words=["<|eot_id|>", "<|eom_id|>"],
            replace_eos=True,
        ),
        _register(
            "mistral",
            user=["[INST] {{content}}[/INST]"],
            assistant=[" {{content}}", EOS],
            system=["{{content}}\n\n"],
            function=["[TOOL_CALLS] {{content}}", EOS],
            function_tool_format="mistral",
            observation=['[TOOL_RESULTS] {"content": {{content}}}[/TOOL_RESULTS]'],
            tools_tool_format="mistral",
            prefix=[BOS],
            kind="llama2",
        ),
        _qwen_like(
            "qwen", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "plain"
        ),
        _qwen_like("qwen3", "", "reasoning"),
        _qwen_like("qwen3_nothink", "", "plain"),
        _register(
            "vicuna",
            user=["USER: {{content}} ASSISTANT:"],
            default_system=(
                "A chat between a curious user and an artificial intelligence assistant. "
                "The assistant gives helpful, detailed, and polite answers to the user's questions."
            ),
        ),
        _register(
            "yi",
            user=[_IM_USER],
            assistant=[_IM_ASSISTANT],
            system=[_IM_SYSTEM],
            stop_words=["<|im_end|>"],
        ),
    ]
}


def get_lf_template(name: str) -> LFTemplate:
    """A fresh copy of a template (the profile may set thinking options on it)."""
    from copy import deepcopy

    if name not in LF_TEMPLATES:
        raise TemplateError(
            f"unknown LLaMA-Factory template '{name}'",
            hint=f"use one of: {', '.join(sorted(LF_TEMPLATES))} (or omit it to parse the tokenizer's own)",
        )
    return deepcopy(LF_TEMPLATES[name])
