"""The ``xtuner`` profile: ids and labels as XTuner 0.2.0 builds them from OpenAI-style data.

Read from, and checked against, XTuner 0.2.0 installed in its own environment (the hand-over bench
compares every row): ``xtuner/dataset/map_fns/dataset_map_fns/openai_map_fn.py``,
``xtuner/dataset/map_fns/template_map_fn.py``, ``xtuner/dataset/utils.py`` (``encode_fn``,
``get_bos_eos_token_ids``), ``xtuner/dataset/huggingface.py`` (``process``) and
``xtuner/utils/templates.py`` (``PROMPT_TEMPLATE``, all of its names are in
:data:`XTUNER_TEMPLATES`):

* ``openai_map_fn``: leading assistant turns are skipped; consecutive user turns are concatenated
  with no separator; each assistant turn closes a (system, input, output) round; the system prompt
  only goes into the round that follows it; a trailing user turn is dropped; an assistant
  ``loss: false`` (our ``train=False``) masks that output.
* What it cannot take, refused by this profile and by ``export --for xtuner`` alike
  (:func:`xtuner_refusal`): a ``tool`` turn (``openai_map_fn`` raises ``NotImplementedError``,
  which stops the whole dataset), an assistant turn with tool calls (only its ``content`` is read:
  the calls would be trained as an empty answer) and a tool list (never read: the answers that
  rely on it would be trained without it).
* ``template_map_fn``: ``INSTRUCTION`` formats each input (``{input}``, ``{round}``); ``SYSTEM``
  is prepended when the round has a system text; ``SUFFIX`` is appended to the output;
  ``need_eos_token = not SUFFIX_AS_EOS``; ``sep = SEP``; rows with no round left are dropped.
* ``encode_fn``: the input, output and separator are tokenized separately; a BOS starts the first
  round and every round after an EOS (no BOS for Qwen tokenizer classes); the output and its EOS
  are trained, the separator is not; the row is cut at ``max_length`` (default 2048) and rows with
  no trained token are dropped (``process``).

Reasoning has no place in XTuner's data: it is put inline as ``<think>\\n...\\n</think>\\n\\n``.
The options are the config's own names: ``prompt_template`` (same as ``--template``),
``max_length`` (same as ``--max-len``) and ``pack_to_max_length``. Packing (after ``encode_fn``)
concatenates the rows in a random order and cuts the stream into ``max_length`` blocks; each
sample's tokens are the ones shown here, so this profile writes the rows before packing.

XTuner renders with its own ``PROMPT_TEMPLATE`` entries, never the tokenizer's chat template:
:func:`xtuner_template` picks the entry matching the tokenizer's template (``export --for
xtuner`` writes the same one into its config) and says when the two render differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import SftforgeError, TemplateError, TokenizeError
from ...sample import Message, Role, Sample
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile

__all__ = [
    "XTUNER_OPTIONS",
    "XTUNER_TEMPLATES",
    "XtunerProfile",
    "openai_rounds",
    "xtuner_refusal",
    "xtuner_template",
]

# XTuner 0.2.0's PROMPT_TEMPLATE: the keys template_map_fn reads (STOP_WORDS only serve chat)
XTUNER_TEMPLATES: dict[str, dict[str, Any]] = {
    'default': {'SYSTEM': '<|System|>:{system}\n', 'INSTRUCTION': '<|User|>:{input}\n<|Bot|>:', 'SEP': '\n'},
    'zephyr': {'SYSTEM': '<|system|>\n{system}\n', 'INSTRUCTION': '<|user|>\n{input}\n<|assistant|>\n', 'SEP': '\n'},
    'internlm_chat': {'SYSTEM': '<|System|>:{system}\n', 'INSTRUCTION': '<|User|>:{input}<eoh>\n<|Bot|>:', 'SUFFIX': '<eoa>', 'SUFFIX_AS_EOS': True, 'SEP': '\n'},
    'internlm2_chat': {'SYSTEM': '<|im_start|>system\n{system}<|im_end|>\n', 'INSTRUCTION': '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n', 'SUFFIX': '<|im_end|>', 'SUFFIX_AS_EOS': True, 'SEP': '\n'},
    'moss_sft': {'SYSTEM': '{system}\n', 'INSTRUCTION': '<|Human|>: {input}<eoh>\n', 'SEP': '\n'},
    'llama2_chat': {'SYSTEM': '[INST] <<SYS>>\n You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe. Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n{system}\n<</SYS>>\n [/INST] ', 'INSTRUCTION': '[INST] {input} [/INST]', 'SEP': '\n'},
    'code_llama_chat': {'SYSTEM': '{system}\n', 'INSTRUCTION': '[INST] {input} [/INST]'},
    'chatglm2': {'SYSTEM': '{system}\n', 'INSTRUCTION': '[Round {round}]\n\n问：{input}\n\n答：', 'SEP': '\n\n'},
    'chatglm3': {'SYSTEM': '<|system|>\n{system}', 'INSTRUCTION': '<|user|>\n{input}<|assistant|>\n', 'SEP': '\n'},
    'qwen_chat': {'SYSTEM': '<|im_start|>system\n{system}<|im_end|>\n', 'INSTRUCTION': '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n', 'SUFFIX': '<|im_end|>', 'SUFFIX_AS_EOS': True, 'SEP': '\n'},
    'baichuan_chat': {'SYSTEM': '{system}\n', 'INSTRUCTION': '<reserved_102>{input}<reserved_103>', 'SEP': '\n'},
    'baichuan2_chat': {'SYSTEM': '{system}\n', 'INSTRUCTION': '<reserved_106>{input}<reserved_107>', 'SEP': '\n'},
    'wizardlm': {'SYSTEM': "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. {system}\n ", 'INSTRUCTION': 'USER: {input} ASSISTANT:', 'SEP': '\n'},
    'wizardcoder': {'SYSTEM': 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n{system}\n ', 'INSTRUCTION': '### Instruction:\n{input}\n\n### Response:', 'SEP': '\n\n'},
    'vicuna': {'SYSTEM': "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. {system}\n ", 'INSTRUCTION': 'USER: {input} ASSISTANT:', 'SEP': '\n'},
    'deepseek_coder': {'SYSTEM': 'You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeekCompany, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer. {system}\n', 'INSTRUCTION': '### Instruction:\n{input}\n### Response:\n', 'SEP': '\n'},
    'deepseekcoder': {'SYSTEM': 'You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeekCompany, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer. {system}\n', 'INSTRUCTION': '### Instruction:\n{input}\n### Response:\n', 'SEP': '\n'},
    'deepseek_moe': {'SYSTEM': '[INST] {system} [/INST]\n', 'INSTRUCTION': '[INST] {input} [/INST]', 'SEP': '\n'},
    'deepseek_v2': {'SYSTEM': '{system}\n\n', 'INSTRUCTION': 'User: {input}\n\nAssistant: ', 'SUFFIX': '<｜end▁of▁sentence｜>', 'SUFFIX_AS_EOS': True},
    'mistral': {'SYSTEM': '[INST] {system} [/INST]\n', 'INSTRUCTION': '[INST] {input} [/INST]', 'SEP': '\n'},
    'mixtral': {'SYSTEM': '[INST] {system} [/INST]\n', 'INSTRUCTION': '[INST] {input} [/INST]', 'SEP': '\n'},
    'minicpm': {'INSTRUCTION': '<用户> {input} <AI>', 'SEP': '\n'},
    'minicpm3': {'SYSTEM': '<|im_start|>system\n{system}<|im_end|>\n', 'INSTRUCTION': '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n', 'SUFFIX': '<|im_end|>', 'SUFFIX_AS_EOS': True, 'SEP': '\n'},
    'gemma': {'SYSTEM': '<start_of_turn>system\n{system}<end_of_turn>\n', 'INSTRUCTION': '<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n', 'SUFFIX': '<end_of_turn>', 'SUFFIX_AS_EOS': False, 'SEP': '\n'},
    'cohere_chat': {'SYSTEM': '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{system}<|END_OF_TURN_TOKEN|>', 'INSTRUCTION': '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{input}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>', 'SUFFIX': '<|END_OF_TURN_TOKEN|>', 'SUFFIX_AS_EOS': True},
    'llama3_chat': {'SYSTEM': '<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>', 'INSTRUCTION': '<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n', 'SUFFIX': '<|eot_id|>', 'SUFFIX_AS_EOS': True},
    'phi3_chat': {'SYSTEM': '<|system|>\n{system}<|end|>\n', 'INSTRUCTION': '<|user|>\n{input}<|end|>\n<|assistant|>\n', 'SUFFIX': '<|end|>', 'SUFFIX_AS_EOS': True, 'SEP': '\n'},
}  # fmt: skip
# the config's options that change the rows (name -> what it is), taken by the profile and export
XTUNER_OPTIONS: dict[str, str] = {
    "prompt_template": "a PROMPT_TEMPLATE name (the same as --template)",
    "max_length": "the cut of each row, in tokens (the same as --max-len)",
    "pack_to_max_length": "true/false: pack rows into max_length blocks after encoding",
}
_QWEN_CLASSES = ("QWenTokenizer", "QWen2Tokenizer", "Qwen2TokenizerFast")
# a marker of the tokenizer's chat template -> the PROMPT_TEMPLATE that renders that format; the
# first match wins (llama2's [INST] with <<SYS>> before mistral's plain [INST])
_MARKERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("<|im_start|>",), "qwen_chat"),
    (("<|start_header_id|>",), "llama3_chat"),
    (("<start_of_turn>",), "gemma"),
    (("<|START_OF_TURN_TOKEN|>",), "cohere_chat"),
    (("<|assistant|>", "<|end|>"), "phi3_chat"),
    (("<|assistant|>", "<|user|>"), "zephyr"),
    (("[INST]", "<<SYS>>"), "llama2_chat"),
    (("[INST]",), "mistral"),
    (("<reserved_106>",), "baichuan2_chat"),
    (("<用户>",), "minicpm"),
)
# the conversation both renderings are compared on
_PROBE: tuple[tuple[Role, str], ...] = (
    ("system", "S"),
    ("user", "Q1"),
    ("assistant", "A1"),
    ("user", "Q2"),
    ("assistant", "A2"),
)


def xtuner_refusal(sample: Sample, template: str | None = None) -> str | None:
    """Why XTuner cannot take ``sample``, or None: the one rule of the profile and of ``export
    --for xtuner``. With ``template``, also a system prompt where that ``PROMPT_TEMPLATE`` has no
    ``SYSTEM`` (``template_map_fn`` would stop the whole dataset with an AttributeError)."""
    reason = _map_fn_refusal(sample)
    if reason is None and template is not None and "SYSTEM" not in XTUNER_TEMPLATES[template]:
        rounds = openai_rounds(sample)
        if not isinstance(rounds, str) and any(r["system"] for r in rounds):
            reason = f"XTuner's template '{template}' has no SYSTEM for the system prompt"
    return reason


def _map_fn_refusal(sample: Sample) -> str | None:
    """What ``openai_map_fn`` cannot read."""
    if sample.tools:
        return (
            "XTuner's openai_map_fn has no tool list: the answers would be trained without the "
            "tools they rely on"
        )
    for m in sample.messages:
        if m.role == "tool":
            return "XTuner's openai_map_fn has no tool turns (it raises NotImplementedError)"
        if m.role == "assistant" and m.tool_calls:
            return "XTuner's openai_map_fn has no tool calls (it would train only the content)"
        if m.role not in ("system", "user", "assistant"):
            return f"role '{m.role}' is not supported by XTuner's openai_map_fn"
    return None


def openai_rounds(sample: Sample) -> list[dict[str, Any]] | str:
    """``openai_map_fn`` on the sample's messages; a string is why XTuner cannot take it."""
    refusal = _map_fn_refusal(sample)
    if refusal is not None:
        return refusal
    msgs = list(sample.messages)
    while msgs and msgs[0].role == "assistant":
        msgs = msgs[1:]
    system, text, rounds = "", "", []
    for m in msgs:
        if m.role == "system":
            system = m.content
        elif m.role == "user":
            text += m.content
        else:
            out = m.content
            if m.reasoning is not None:
                out = "<think>\n" + m.reasoning + "\n</think>\n\n" + out
            loss = m.train is not False
            rounds.append(
                {"system": system, "input": text, "output": out, "output_with_loss": loss}
            )
            system, text = "", ""
    return rounds


def _bos_eos(tokenizer: Any) -> tuple[list[int], list[int]]:
    """``get_bos_eos_token_ids``."""
    kind = type(tokenizer).__name__
    if kind in _QWEN_CLASSES:
        bos: list[int] = []
    elif kind == "ChatGLMTokenizer":
        bos = [64790, 64792]
    else:
        bos = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    if tokenizer.eos_token_id is None:
        raise TokenizeError("the tokenizer has no EOS token; XTuner needs one")
    return bos, [tokenizer.eos_token_id]


def _templated(rounds: list[dict[str, Any]], tpl: dict[str, Any]) -> list[dict[str, Any]]:
    """``template_map_fn``."""
    for i, r in enumerate(rounds):
        text = tpl["INSTRUCTION"].format(input=r["input"], round=i + 1)
        if r["system"]:
            text = tpl["SYSTEM"].format(system=r["system"]) + text
        r["input"] = text
        if tpl.get("SUFFIX"):
            r["output"] += tpl["SUFFIX"]
        r["need_eos_token"] = not tpl.get("SUFFIX_AS_EOS", False)
        r["sep"] = tpl.get("SEP", "")
    return rounds


def _xtuner_text(tokenizer: Any, name: str, system: bool = True) -> str:
    """The probe conversation as XTuner's text: ``encode_fn``'s pieces with BOS/EOS as text."""
    bos, _ = _bos_eos(tokenizer)
    bos_text = tokenizer.decode(bos) if bos else ""
    tpl = XTUNER_TEMPLATES[name]
    sample = Sample([Message(r, c) for r, c in _PROBE if r != "system" or system])
    rounds = openai_rounds(sample)
    assert not isinstance(rounds, str)
    text, needs_bos = "", True
    for r in _templated(rounds, tpl):
        text += (bos_text if needs_bos else "") + r["input"] + r["output"]
        needs_bos = r["need_eos_token"]
        text += str(tokenizer.eos_token) if needs_bos else ""
        text += r["sep"]
    return text


def _difference(ours: str, theirs: str) -> str:
    """Where two renderings part: the first differing character, with a little context."""
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
    if i is None:
        i = min(len(ours), len(theirs))
    start = max(0, i - 12)
    return (
        f"at character {i}: XTuner {ours[start : i + 24]!r}, tokenizer {theirs[start : i + 24]!r}"
    )


def _own_text(tokenizer: Any, system: bool = True) -> str | None:
    """The probe rendered by the tokenizer's own chat template (sandboxed), or None without one."""
    from ..encode import special_tokens_of
    from ..render import render_messages
    from ..templates import resolve_template

    if not isinstance(getattr(tokenizer, "chat_template", None), (str, dict, list)):
        return None
    msgs = [{"role": r, "content": c} for r, c in _PROBE if r != "system" or system]
    template = resolve_template(None, tokenizer)
    return render_messages(msgs, template, special_tokens=special_tokens_of(tokenizer))[0]


def xtuner_template(tokenizer: Any, template: str | None) -> tuple[str, list[str]]:
    """The XTuner ``PROMPT_TEMPLATE`` name for ``tokenizer`` and ``--template``, with warnings.

    ``template`` when given (it must be a ``PROMPT_TEMPLATE`` name); else the entry whose format
    the tokenizer's chat template uses (``<|im_start|>`` -> ``qwen_chat``...), else ``default``.
    XTuner cannot render with the tokenizer's template, so when the two render a probe
    conversation differently (a default system prompt, an empty ``<think>`` block, a doubled
    BOS...) the warning says where. ``tokenizer`` may be None (no model folder to read)."""
    notes: list[str] = []
    own = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if template is None:
        source = str(own or "")
        template = next(
            (name for marks, name in _MARKERS if all(m in source for m in marks)), "default"
        )
        if tokenizer is None:
            notes.append(
                "no tokenizer to read (--model is not a local folder): XTuner template 'default' "
                "(pass --template NAME or --tokenizer PATH)"
            )
        elif not own:
            notes.append("the tokenizer has no chat template: XTuner template 'default'")
    if template not in XTUNER_TEMPLATES:
        raise TemplateError(
            f"unknown XTuner template '{template}'",
            field="template",
            hint=f"use one of XTuner's PROMPT_TEMPLATE names: {', '.join(sorted(XTUNER_TEMPLATES))}",
        )
    if own:
        try:
            notes += _compared(tokenizer, template)
        except SftforgeError as exc:
            notes.append(f"the tokenizer's chat template could not be rendered: {exc.message}")
    return template, notes


def _compared(tokenizer: Any, name: str) -> list[str]:
    """The warning when XTuner's ``name`` and the tokenizer's template render the probe apart;
    the probe has a system prompt where both take one."""
    system = "SYSTEM" in XTUNER_TEMPLATES[name]
    try:
        own = _own_text(tokenizer, system=system)
    except SftforgeError:  # e.g. a template that raises on a system turn (Gemma's)
        if not system:
            raise
        system = False
        own = _own_text(tokenizer, system=False)
    ours = _xtuner_text(tokenizer, name, system=system)
    if own is None or ours == own:
        return []
    return [
        f"XTuner's template '{name}' renders differently from the tokenizer's own chat "
        f"template ({_difference(ours, own)}); XTuner trains on its own rendering, which "
        "`sftforge tokenize --profile xtuner` shows"
    ]


def _flag(options: dict[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool):
        raise TokenizeError(f"xtuner option {key} must be true or false, not {value!r}")
    return value


@dataclass
class XtunerProfile(StagedProfile):
    """XTuner SFT encoding. ``template`` is an XTuner ``PROMPT_TEMPLATE`` name (default: the one
    :func:`xtuner_template` picks for the tokenizer); ``max_length`` defaults to 2048 as in
    XTuner's configs. ``notes`` holds the template warnings."""

    name = "xtuner"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        options = dict(self.options)
        unknown = sorted(set(options) - set(XTUNER_OPTIONS))
        if unknown:
            raise TokenizeError(
                f"unknown xtuner option(s): {', '.join(unknown)}",
                hint=f"xtuner takes: {', '.join(XTUNER_OPTIONS)}",
            )
        self.template = _same("template", "prompt_template", self.template, options)
        self.max_length = _same("max-len", "max_length", self.max_length, options)
        if self.max_length is not None and (
            not isinstance(self.max_length, int) or self.max_length < 1
        ):
            raise TokenizeError(
                f"xtuner max_length must be a positive integer, not {self.max_length!r}"
            )
        _flag(options, "pack_to_max_length")  # checked: the rows shown are the rows before packing
        name, self.notes = xtuner_template(self.tokenizer, self.template)
        self.template = name
        self.tpl = XTUNER_TEMPLATES[name]
        self.bos, self.eos = _bos_eos(self.tokenizer)
        if self.max_length is None:
            self.max_length = 2048

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        """Per sample a Rejected or its templated rounds, each with the index of its texts."""
        index: dict[str, int] = {}
        plans: list[Any] = []
        for s in samples:
            refusal = xtuner_refusal(s, self.template)
            rounds = openai_rounds(s) if refusal is None else refusal
            if isinstance(rounds, str):
                plans.append(self.reject(s, rounds))
                continue
            rounds = _templated(rounds, self.tpl)
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
        if not rounds:  # template_map_fn's filter: no assistant turn to train
            return self.reject(sample, "no assistant turn (XTuner drops rows without a round)")
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


def _same(flag: str, key: str, given: Any, options: dict[str, Any]) -> Any:
    """``--flag`` or ``--option key=...``: either, or both when they agree."""
    if key not in options:
        return given
    if given is not None and given != options[key]:
        raise TokenizeError(
            f"--{flag} {given!r} and --option {key}={options[key]!r} disagree", field=key
        )
    return options[key]
