"""LitGPT's prompt styles, and how a conversation becomes LitGPT's ``instruction``/``output`` records.

Read from LitGPT 0.5.13 ``litgpt/prompts.py`` (``prompt_styles``: the names ``--data.prompt_style``
takes) and ``litgpt/data/base.py`` (``SFTDataset``: ``prompt_style.apply(prompt=
example["instruction"], **example)``, so every key of a record reaches ``apply``; ``input`` is read
by ``alpaca`` only and ``sys_prompt`` by the styles that have a system prompt). The strings are
LitGPT's, character for character; the slow test compares every style with LitGPT's own.

LitGPT's JSON data module is single-turn: one ``instruction`` and one ``output`` per record, and a
list of messages as ``instruction`` (which ``llama3`` could render) fails in ``SFTDataset``. A
conversation with several answers therefore becomes one record per assistant turn: the record for
answer *k* has the earlier turns in its ``instruction``, written in the chat format of the style
(:data:`TURNS`), so that ``apply`` renders exactly the multi-turn prompt of that format, and
answer *k* as ``output``. Each answer is trained once, after the same context a chat model sees
at inference, which is what a multi-turn chat trainer trains; the cost is that the earlier turns
are encoded again in each record. Styles that are not chat formats (``alpaca``, ``flan``...) have
no way to write earlier turns, so a multi-turn sample is refused for them, with the reason
(with ``--allow-lossy``: its first exchange is written and the loss counted).

A system prompt goes into the record's ``sys_prompt`` key (LitGPT passes it to ``apply``); the
Alpaca-like styles put their system text straight before ``### Instruction`` (their own default
ends with a blank line), so a blank line is added there. Tools, tool calls, media, preference
and the rest that LitGPT's records cannot carry are losses (refused, or with ``--allow-lossy``
dropped and counted), as for the ``litgpt`` file format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from json import dumps
from typing import Any

from ...errors import ConversionError
from ...formats import LossLog
from ...formats._common import check_losses, pairs_of, put_id
from ...formats.alpaca import split_prompt
from ...formats.base import Capabilities
from ...sample import Sample

__all__ = [
    "STYLES",
    "TURNS",
    "apply_style",
    "litgpt_records",
    "render_conversation",
]

_ALPACA_SYS = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
)
_ALPACA_INPUT_SYS = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
)
_STABLELM_SYS = (
    "# StableLM Tuned (Alpha version)\n- StableLM is a helpful and harmless open-source AI language"
    " model developed by StabilityAI.\n- StableLM is excited to be able to help the user, but will "
    "refuse to do anything that could be considered harmful to the user.\n- StableLM is more than "
    "just an information source, StableLM is also able to write poetry, short stories, and make "
    "jokes.\n- StableLM will refuse to participate in anything that could harm a human."
)
_LLAMA2_SYS = (
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as"
    " possible, while being safe.  Your answers should not include any harmful, unethical, racist,"
    " sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially"
    " unbiased and positive in nature.\n\nIf a question does not make any sense, or is not "
    "factually coherent, explain why instead of answering something not correct. If you don't "
    "know the answer to a question, please don't share false information."
)
_PHI4_REASONING_SYS = (
    "You are Phi, a language model trained by Microsoft to help users. Your role as an assistant "
    "involves thoroughly exploring questions through a systematic thinking process before "
    "providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, "
    "backtracing, and iteration to develop well-considered thinking process. Please structure "
    "your response into two main sections: Thought and Solution using the specified format: "
    "<think> {Thought section} </think> {Solution section}. In the Thought section, detail your "
    "reasoning process in steps. Each step should include detailed considerations such as "
    "analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the "
    "accuracy of the current steps, refining any errors, and revisiting previous steps. In the "
    "Solution section, based on various attempts, explorations, and reflections from the Thought "
    "section, systematically present the final solution that you deem correct. The Solution "
    "section should be logical, accurate, and concise and detail necessary steps needed to reach "
    "the conclusion. Now, try to solve the following question through the above guidelines:"
)
_SALAMANDRA_SYS = (
    "I am Salamandra, an AI language model developed at the Barcelona Supercomputing Centre (BSC) "
    "by the Language Technologies Unit. My knowledge base was last updated on August 2023. Today "
    "Date: 2024-09-30\nSoy Salamandra, un modelo lingüístico de IA desarrollado en el Barcelona "
    "Supercomputing Centre (BSC) por la Language Technologies Unit. Mi base de conocimientos se "
    "actualizó por última vez en agosto de 2023.\nSoc Salamandra, un model de llenguatge d'IA "
    "desenvolupat al Barcelona Supercomputing Centre (BSC) per la Language Technologies Unit."
)

Apply = Callable[[str, "str | None", dict[str, Any]], str]


def _alpaca(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    if kw.get("input"):
        sys = sys or _ALPACA_INPUT_SYS
        return f"{sys}### Instruction:\n{p}\n\n### Input:\n{kw['input']}\n\n### Response:\n"
    return f"{sys or _ALPACA_SYS}### Instruction:\n{p}\n\n### Response:\n"


def _flan(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    return f"{sys or _ALPACA_SYS}### Instruction:\n{p}\n\n### Response:\n"


def _longform(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    return f"{sys or _ALPACA_INPUT_SYS}### Instruction:\n{p}\n\n### Response:\n"


def _function_calling(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    meta = {
        "function": "search_bing",
        "description": (
            "Search the web for content on Bing. This allows users to search online/the "
            "internet/the web for content."
        ),
        "arguments": [
            {"name": "query", "type": "string", "description": "The search query string"}
        ],
    }
    system = sys or (
        "You are a helpful, respectful and honest assistant. Always answer as helpfully as"
        "possible. Your only response should be JSON formatted functions"
    )
    functions = dumps(meta).replace("{", "{{").replace("}", "}}")
    return (
        f"<FUNCTIONS>{functions.strip()}</FUNCTIONS>\n\n[INST]<<SYS>>\n{system.strip()}"
        f"\n<</SYS>>\n\n{p}[/INST]\n\n"
    )


def _codellama(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    if sys:
        return f"[INST] <<SYS>>\n{sys}\n<</SYS>>\n\n{p} [/INST]"
    return f"[INST] {p} [/INST]"


def _phi4(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    head = f"<|im_start|>system<|im_sep|>{sys}<|im_end|>" if sys else ""
    return f"{head}<|im_start|>user<|im_sep|>{p}<|im_end|><|im_start|>assistant<|im_sep|>"


def _phi4_mini(p: str, sys: str | None, kw: dict[str, Any]) -> str:
    head = f"<|system|>{sys}<|end|>" if sys else ""
    return f"{head}<|user|>{p}<|end|><|assistant|>"


def _chatml(default: str | None) -> Apply:
    def apply(p: str, sys: str | None, kw: dict[str, Any]) -> str:
        system = sys or default
        head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
        return f"{head}<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n"

    return apply


def _fixed(text: str) -> Apply:
    """A style that ignores the system prompt: ``text`` with ``{p}`` for the prompt."""
    return lambda p, sys, kw: text.replace("{p}", p)


# name -> apply(prompt, sys_prompt, other keys of the record); LitGPT's ``prompt_styles``
STYLES: dict[str, Apply] = {
    "alpaca": _alpaca,
    "flan": _flan,
    "longform": _longform,
    "stablelm-alpha": lambda p, sys, kw: (
        f"<|SYSTEM|>{sys or _STABLELM_SYS}<|USER|>{p}<|ASSISTANT|>"
    ),
    "stablelm-zephyr": _fixed("<|user|>\n{p}<|endoftext|>\n<|assistant|>\n"),
    "falcon": _fixed("{p}\nAnswer:"),
    "llama2-function-calling": _function_calling,
    "llama2": lambda p, sys, kw: f"[INST] <<SYS>>\n{sys or _LLAMA2_SYS}\n<</SYS>>\n\n {p} [/INST] ",
    "freewilly2": lambda p, sys, kw: (
        f"### System:\n{sys or 'This is a system prompt, please behave and help the user.'}"
        f"\n\n### User:\n{p}\n\n### Assistant:\n"
    ),
    "platypus": _fixed("### Instruction:\n\n{p}\n\n### Response:\n"),
    "stablecode": _fixed("###Instruction\n{p}###Response\n"),
    "codellama": _codellama,
    "phi-1": _fixed("{p}\n\nAnswer:"),
    "phi-2": _fixed("Instruct: {p}\nOutput:"),
    "phi-3": lambda p, sys, kw: (
        f"<|system|>\n{sys or 'You are a helpful assistant.'}<|end|>\n<|user|>\n{p}<|end|>\n"
        "<|assistant|>\n"
    ),
    "phi-4": _phi4,
    "phi-4-reasoning": lambda p, sys, kw: (
        f"<|im_start>system<|im_sep|>{sys or _PHI4_REASONING_SYS}<|im_end|><|im_start|>user"
        f"<|im_sep|>{p}<|im_end|><|im_start|>assistant<|im_sep|>"
    ),
    "phi-4-mini": _phi4_mini,
    "phi-4-mini-reasoning": lambda p, sys, kw: (
        f"<|system|>{sys or 'Your name is Phi, an AI math expert developed by Microsoft.'}"
        f"<|end|><|user|>{p}<|end|><|assistant|>"
    ),
    "tinyllama": lambda p, sys, kw: (
        "<|system|>\n"
        f"{sys or 'You are a friendly chatbot who always gives helpful, detailed, and polite answers.'}"
        f"</s>\n<|user|>\n{p}</s>\n<|assistant|>\n"
    ),
    "gemma": _fixed("<start_of_turn>user\n{p}<end_of_turn>\n<start_of_turn>model\n"),
    "llama3": lambda p, sys, kw: (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"{sys or 'You are a helpful assistant.'}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{p}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "olmo": _fixed("<|endoftext|><|user|>\n{p}\n<|assistant|>\n"),
    "qwen2.5": _chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "qwen2.5-math": _chatml(
        "Please reason step by step, and put your final answer within \\boxed{}."
    ),
    "qwq": _chatml(
        "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should "
        "think step-by-step."
    ),
    "qwen3": _chatml(None),
    "smollm2": _chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
    "salamandra": _chatml(_SALAMANDRA_SYS),
}

# the styles whose ``apply`` ignores ``sys_prompt``: a system prompt would be lost
_NO_SYSTEM = frozenset(
    {"stablelm-zephyr", "falcon", "platypus", "stablecode", "phi-1", "phi-2", "gemma", "olmo"}
)
# the styles whose system text is a preamble written straight before "### Instruction"
_PREAMBLE = frozenset({"alpaca", "flan", "longform"})


@dataclass(frozen=True)
class Turns:
    """How a chat style writes the turns ``apply`` leaves to its ``prompt``: ``apply`` wraps the
    prompt as USER_OPEN + prompt + ``answer_open``, so earlier turns are written into the prompt as
    user + ``answer_open`` + answer + ``answer_close`` + ``user_open`` + next user."""

    user_open: str
    answer_open: str
    answer_close: str


_CHATML = Turns("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>\n")
# the chat styles and their turns (each one checked against its apply() in the tests)
TURNS: dict[str, Turns] = {
    **dict.fromkeys(("qwen2.5", "qwen2.5-math", "qwq", "qwen3", "smollm2", "salamandra"), _CHATML),
    "llama3": Turns(
        "<|start_header_id|>user<|end_header_id|>\n\n",
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "<|eot_id|>",
    ),
    "phi-3": Turns("<|user|>\n", "<|end|>\n<|assistant|>\n", "<|end|>\n"),
    "phi-4": Turns(
        "<|im_start|>user<|im_sep|>", "<|im_end|><|im_start|>assistant<|im_sep|>", "<|im_end|>"
    ),
    "phi-4-mini": Turns("<|user|>", "<|end|><|assistant|>", "<|end|>"),
    "tinyllama": Turns("<|user|>\n", "</s>\n<|assistant|>\n", "</s>\n"),
    "gemma": Turns(
        "<start_of_turn>user\n", "<end_of_turn>\n<start_of_turn>model\n", "<end_of_turn>\n"
    ),
    "stablelm-zephyr": Turns("<|user|>\n", "<|endoftext|>\n<|assistant|>\n", "<|endoftext|>\n"),
}

# what a LitGPT record carries: a system prompt (``sys_prompt``), through the records of each
# answer several turns, and the sample's own ``id`` (LitGPT hands every key to ``apply``, whose
# ``**kwargs`` ignore it); not tools, media, preference or other fields
_CAPS = Capabilities(system=True, multi_turn=True, ids=True, fields=False)


def apply_style(style: str, record: dict[str, Any]) -> str:
    """``PromptStyle.from_name(style).apply(prompt=record["instruction"], **record)``."""
    kw = {k: v for k, v in record.items() if k not in ("instruction", "sys_prompt")}
    return STYLES[style](record["instruction"], record.get("sys_prompt"), kw)


def litgpt_records(sample: Sample, style: str, loss: LossLog) -> list[dict[str, Any]]:
    """The LitGPT records of ``sample`` for prompt style ``style``: one per assistant answer
    (see the module docstring). Raises :class:`ConversionError` (the reason) when LitGPT's
    records cannot carry the sample."""
    system, pairs = pairs_of(sample, loss, "litgpt")
    check_losses(sample, _CAPS, loss, "litgpt")
    turns = TURNS.get(style)
    if len(pairs) > 1 and turns is None and loss.allow:
        loss.lose("multi-turn", sample, "litgpt")  # --allow-lossy: the first exchange only
        pairs = pairs[:1]
    elif len(pairs) > 1 and turns is None:
        raise ConversionError(
            f"a conversation of {len(pairs)} exchanges: LitGPT's '{style}' prompt style is "
            "single-turn (it has no way to write the earlier turns).",
            sample_id=sample.id,
            hint=f"use a chat prompt style (--template {' | '.join(sorted(TURNS))})",
        )
    sys_prompt: str | None = None
    if system:
        if style in _NO_SYSTEM:
            loss.lose(f"system prompt (the '{style}' prompt style has none)", sample, "litgpt")
        else:
            sys_prompt = system + "\n\n" if style in _PREAMBLE else system
    records: list[dict[str, Any]] = []
    history = ""
    for user, answer in pairs:
        if turns is None and style == "alpaca":
            # only alpaca reads ``input``: the original instruction/input split is kept for it
            instruction, inp = split_prompt(user, sample.meta) if sample.meta else (user, "")
        else:
            instruction, inp = history + user, ""
        record: dict[str, Any] = {}
        put_id(record, sample)
        record |= {"instruction": instruction, "input": inp, "output": answer}
        if sys_prompt is not None:
            record["sys_prompt"] = sys_prompt
        records.append(record)
        if turns is not None:
            history += user + turns.answer_open + answer + turns.answer_close + turns.user_open
    return records


def render_conversation(style: str, record: dict[str, Any], eos: str) -> str:
    """The text LitGPT trains on for one record: the prompt, the answer and the end token."""
    return apply_style(style, record) + record["output"] + eos
