"""The ``xtuner`` profile: ids and labels as XTuner 0.1.x builds them from OpenAI-style data.

What is reproduced (read from InternLM/xtuner ``xtuner/dataset/map_fns/dataset_map_fns/
openai_map_fn.py``, ``xtuner/dataset/map_fns/template_map_fn.py``, ``xtuner/dataset/utils.py``
``encode_fn``/``get_bos_eos_token_ids`` and ``xtuner/utils/templates.py`` ``PROMPT_TEMPLATE``, the
0.1.18+ layout; not run against XTuner, which is not installed here - tested on hand-computed ids):

* ``openai_map_fn``: leading assistant turns are skipped; consecutive user turns are concatenated
  with no separator; each assistant turn closes a (system, input, output) round; the system prompt
  only goes into the round that follows it; a trailing user turn is dropped; an assistant
  ``loss: false`` (our ``train=False``) masks that output; tool turns are not supported.
* ``template_map_fn``: ``INSTRUCTION`` formats each input (``{input}``, ``{round}``); ``SYSTEM``
  is prepended when the round has a system text; ``SUFFIX`` is appended to the output;
  ``need_eos_token = not SUFFIX_AS_EOS``; ``sep = SEP``.
* ``encode_fn``: the input, output and separator are tokenized separately; a BOS starts the first
  round and every round after an EOS (no BOS for Qwen tokenizer classes); the output and its EOS
  are trained, the separator is not; the row is cut at ``max_length`` (default 2048) and rows with
  no trained token are dropped (``process_hf_dataset``).

Reasoning has no place in XTuner's data: it is put inline as ``<think>\\n...\\n</think>\\n\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile

__all__ = ["XTUNER_TEMPLATES", "XtunerProfile", "openai_rounds"]

_IM_SYS = "<|im_start|>system\n{system}<|im_end|>\n"
_IM_INST = "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n"
XTUNER_TEMPLATES: dict[str, dict[str, Any]] = {
    "default": {"SYSTEM": "<|System|>:{system}\n", "INSTRUCTION": "<|User|>:{input}\n<|Bot|>:", "SEP": "\n"},
    "zephyr": {"SYSTEM": "<|system|>\n{system}\n", "INSTRUCTION": "<|user|>\n{input}\n<|assistant|>\n", "SEP": "\n"},
    "internlm2_chat": {"SYSTEM": _IM_SYS, "INSTRUCTION": _IM_INST, "SUFFIX": "<|im_end|>", "SUFFIX_AS_EOS": True, "SEP": "\n"},
    "qwen_chat": {"SYSTEM": _IM_SYS, "INSTRUCTION": _IM_INST, "SUFFIX": "<|im_end|>", "SUFFIX_AS_EOS": True, "SEP": "\n"},
    "llama3_chat": {
        "SYSTEM": "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
        "INSTRUCTION": "<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "SUFFIX": "<|eot_id|>",
        "SUFFIX_AS_EOS": True,
    },
    "chatglm3": {"SYSTEM": "<|system|>\n{system}", "INSTRUCTION": "<|user|>\n{input}<|assistant|>\n", "SEP": "\n"},
    "mistral": {"SYSTEM": "[INST] {system} [/INST]\n", "INSTRUCTION": "[INST] {input} [/INST]", "SEP": "\n"},
    "vicuna": {
        "SYSTEM": "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. {system}\n ",
        "INSTRUCTION": "USER: {input} ASSISTANT:",
        "SEP": "\n",
    },
    "gemma": {
        "SYSTEM": "<start_of_turn>system\n{system}<end_of_turn>\n",
        "INSTRUCTION": "<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n",
        "SUFFIX": "<end_of_turn>",
        "SUFFIX_AS_EOS": False,
        "SEP": "\n",
    },
    "phi3_chat": {"SYSTEM": "<|system|>\n{system}<|end|>\n", "INSTRUCTION": "<|user|>\n{input}<|end|>\n<|assistant|>\n", "SUFFIX": "<|end|>", "SUFFIX_AS_EOS": True, "SEP": "\n"},
}  # fmt: skip
_QWEN_CLASSES = ("QWenTokenizer", "QWen2Tokenizer", "Qwen2TokenizerFast")


def openai_rounds(sample: Sample) -> list[dict[str, Any]] | str:
    """``openai_map_fn`` on the sample's messages; a string is why XTuner cannot take it."""
    msgs = list(sample.messages)
    while msgs and msgs[0].role == "assistant":
        msgs = msgs[1:]
    system, text, rounds = "", "", []
    for m in msgs:
        if m.role == "system":
            system = m.content
        elif m.role == "user":
            text += m.content
        elif m.role == "assistant":
            if m.tool_calls:
                return "tool calls have no place in XTuner's openai_map_fn"
            out = m.content
            if m.reasoning is not None:
                out = "<think>\n" + m.reasoning + "\n</think>\n\n" + out
            loss = m.train is not False
            rounds.append(
                {"system": system, "input": text, "output": out, "output_with_loss": loss}
            )
            system, text = "", ""
        else:
            return f"role '{m.role}' is not supported by XTuner's openai_map_fn"
    return rounds


@dataclass
class XtunerProfile(StagedProfile):
    """XTuner SFT encoding. ``template`` is an XTuner ``PROMPT_TEMPLATE`` name (default
    ``default``); ``max_length`` defaults to 2048 as in XTuner's configs."""

    name = "xtuner"

    def __post_init__(self) -> None:
        if self.options:
            raise TokenizeError(f"unknown xtuner option(s): {', '.join(sorted(self.options))}")
        name = self.template or "default"
        if name not in XTUNER_TEMPLATES:
            raise TemplateError(
                f"unknown XTuner template '{name}'",
                hint=f"use one of: {', '.join(sorted(XTUNER_TEMPLATES))}",
            )
        self.tpl = XTUNER_TEMPLATES[name]
        tok = self.tokenizer
        if type(tok).__name__ in _QWEN_CLASSES:
            self.bos: list[int] = []
        elif type(tok).__name__ == "ChatGLMTokenizer":
            self.bos = [64790, 64792]
        else:
            self.bos = [] if tok.bos_token_id is None else [tok.bos_token_id]
        if tok.eos_token_id is None:
            raise TokenizeError("the tokenizer has no EOS token; XTuner needs one")
        self.eos = [tok.eos_token_id]
        if self.max_length is None:
            self.max_length = 2048

    def _templated(self, rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``template_map_fn``."""
        t = self.tpl
        for i, r in enumerate(rounds):
            text = t["INSTRUCTION"].format(input=r["input"], round=i + 1)
            if r["system"]:
                text = t["SYSTEM"].format(system=r["system"]) + text
            r["input"] = text
            if t.get("SUFFIX"):
                r["output"] += t["SUFFIX"]
            r["need_eos_token"] = not t.get("SUFFIX_AS_EOS", False)
            r["sep"] = t.get("SEP", "")
        return rounds

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        """Per sample a Rejected or its templated rounds, each with the index of its texts."""
        index: dict[str, int] = {}
        plans: list[Any] = []
        for s in samples:
            rounds = openai_rounds(s)
            if isinstance(rounds, str):
                plans.append(self.reject(s, rounds))
                continue
            rounds = self._templated(rounds)
            for r in rounds:  # each distinct text once: its position among the chunk's texts
                r["keys"] = [
                    index.setdefault(t, len(index)) for t in (r["input"], r["output"], r["sep"])
                ]
            plans.append(rounds)
        return plans, list(index)

    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: Any
    ) -> list[Encoded | Rejected]:
        return [
            rounds if isinstance(rounds, Rejected) else self._encode_rounds(s, rounds, ids)
            for s, rounds in zip(samples, plan, strict=True)
        ]

    def _encode_rounds(
        self, sample: Sample, rounds: list[dict[str, Any]], table: list[list[int]]
    ) -> Encoded | Rejected:
        """``encode_fn`` with ``input_ids_with_output=True``."""
        ids: list[int] = []
        labels: list[int] = []
        needs_bos = True
        for r in rounds:
            inp, outp, sep = (table[k] for k in r["keys"])
            if needs_bos:
                ids += self.bos
                labels += [IGNORE_INDEX] * len(self.bos)
            ids += inp
            labels += [IGNORE_INDEX] * len(inp)
            ids += outp
            labels += outp if r["output_with_loss"] else [IGNORE_INDEX] * len(outp)
            if r["need_eos_token"]:
                needs_bos = True
                ids += self.eos
                labels += self.eos if r["output_with_loss"] else [IGNORE_INDEX] * len(self.eos)
            else:
                needs_bos = False
            if r["sep"] != "":
                ids += sep
                labels += [IGNORE_INDEX] * len(sep)
        assert self.max_length is not None
        ids, labels = ids[: self.max_length], labels[: self.max_length]
        if labels.count(IGNORE_INDEX) == len(labels):  # no trained token
            return self.reject(sample, "no trained token (XTuner drops rows without valid labels)")
        return Encoded(ids, labels, [1] * len(ids), sample.id)
