"""The ``litgpt`` profile: ids and labels as LitGPT's JSON data module builds them.

What is reproduced (read from LitGPT 0.5.13, ``litgpt/data/json_data.py``, ``litgpt/data/base.py``
``SFTDataset.__getitem__``, ``litgpt/tokenizer.py``, ``litgpt/prompts.py``; checked against LitGPT
itself by the slow test and ``sftforge export --check``):

* each sample becomes the records ``export --for litgpt`` writes (:func:`.litgpt_styles.
  litgpt_records`: one per assistant answer, earlier turns in the prompt style's chat format);
* per record: ``prompt = prompt_style.apply(prompt=instruction, **record)``; the prompt is encoded
  with LitGPT's ``Tokenizer.encode`` (the ``tokenizers`` backend from ``tokenizer.json``, special
  tokens of its post-processor included; BOS prepended when LitGPT decides the model uses one,
  otherwise a BOS the backend put first is removed; an EOS at the end is removed), the answer with
  ``bos=False, eos=True`` (a leading BOS removed, the EOS appended unless already last); each is
  cut to ``max_seq_length``, then the two together are cut to it;
* labels are the ids, ``-100`` over the prompt when ``mask_prompt``; no row is dropped for length.

LitGPT's own ``mask_prompt`` default is ``false`` (the prompt is trained); this profile's default is
``true``, as the export writes it (``--data.mask_prompt``): pass ``--option mask_prompt=false`` to
see the default module's rows. ``template`` is a LitGPT prompt style name (``--data.prompt_style``);
without it the style is chosen from the tokenizer's chat template by :func:`prompt_style_for`,
the same decision the export writes. Options: ``mask_prompt`` (default true), ``allow_lossy``
(what ``export --allow-lossy`` writes: drop and count what LitGPT's records cannot carry instead of
rejecting the sample). ``max_length`` is ``--train.max_seq_length``.

LitGPT reads the tokenizer from its checkpoint folder (``tokenizer.json`` +
``tokenizer_config.json`` + ``generation_config.json``), so the tokenizer must be a local folder
with a ``tokenizer.json``; a SentencePiece-only folder (``tokenizer.model``) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import SftforgeError, TokenizeError
from ...formats import LossLog
from ...sample import Sample
from .base import IGNORE_INDEX, Encoded, Profile, Rejected
from .litgpt_styles import STYLES, TURNS, apply_style, litgpt_records
from .litgpt_tokenizer import LitgptTokenizer, tokenizer_folder

__all__ = [
    "LitgptProfile",
    "StyleDecision",
    "dropped_bos_note",
    "prompt_style_for",
    "style_for_model_name",
]

_KNOWN_OPTIONS = frozenset({"mask_prompt", "allow_lossy"})


@dataclass(frozen=True)
class StyleDecision:
    """The LitGPT prompt style for a model, and a warning when it does not render conversations
    the way the model's own chat template does."""

    style: str
    note: str | None = None


# (marker in the chat template, LitGPT prompt style): the first that matches wins
_MARKERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("<|start_header_id|>",), "llama3"),
    (("<|im_start|>", "<|im_sep|>"), "phi-4"),
    (("<|im_start|>", "You are Qwen, created by Alibaba Cloud"), "qwen2.5"),
    (("<|im_start|>", "Please reason step by step"), "qwen2.5-math"),
    (("<|im_start|>", "SmolLM"), "smollm2"),
    (("<|im_start|>",), "qwen3"),  # ChatML without a default system turn
    (("<start_of_turn>",), "gemma"),
    (("<|user|>", "<|end|>"), "phi-3"),
    (("<|user|>", "</s>"), "tinyllama"),
    (("[INST]", "<<SYS>>"), "llama2"),
    (("[INST]",), "codellama"),
    (("### Instruction",), "alpaca"),
)
_PROBE: tuple[tuple[str, str], ...] = (("Hello", "Hi, how can I help?"), ("What is 2+2?", "4"))


def _guess_style(chat_template: str) -> str | None:
    for markers, style in _MARKERS:
        if all(m in chat_template for m in markers):
            return style
    return None


# LitGPT's ``model_name_to_prompt_style`` (prompts.py), in its order; None: a style LitGPT has no
# ``--data.prompt_style`` name for (R1Base, Falcon3)
_MODEL_NAMES: tuple[tuple[str, str | None], ...] = (
    (r"stablelm-tuned-alpha", "stablelm-alpha"),
    (r"stablelm-zephyr-3b", "stablelm-zephyr"),
    (r"stablecode-instruct", "stablecode"),
    (r"Falcon3.*-Instruct", None),
    (r"falcon.*-instruct", "falcon"),
    (r"Llama-2-7b-chat-hf-function-calling-v2", "llama2-function-calling"),
    (r"Llama-2.*-chat", "llama2"),
    (r"Llama-3.*-Instruct", "llama3"),
    (r"OLMo-2.*-(Instruct|SFT|DPO)", "llama3"),
    (r"R1", None),
    (r"FreeWilly2", "freewilly2"),
    (r"Platypus", "platypus"),
    (r"CodeLlama|Mi[sx]tral.*Instruct", "codellama"),
    (r"phi-1", "phi-1"),
    (r"phi-2", "phi-2"),
    (r"Phi-3", "phi-3"),
    (r"Phi-4-reasoning", "phi-4-reasoning"),
    (r"Phi-4-mini-reasoning", "phi-4-mini-reasoning"),
    (r"Phi-4-mini", "phi-4-mini"),
    (r"phi-4", "phi-4"),
    (r"tiny-llama.*chat", "tinyllama"),
    (r"(Code)?Gemma.*-it", "gemma"),
    (r"OLMo.*-hf", "olmo"),
    (r"Qwen2\.5-Math-.*", "qwen2.5-math"),
    (r"Qwen2\.5-.*", "qwen2.5"),
    (r"QwQ-.*", "qwq"),
    (r"Qwen3-.*", "qwen3"),
    (r"SmolLM2.*-Instruct", "smollm2"),
    (r"salamandra-.*-instruct", "salamandra"),
)


def style_for_model_name(name: str) -> str | None:
    """The prompt style LitGPT itself gives a model of this name, when it has a name for it."""
    return next((style for pattern, style in _MODEL_NAMES if re.search(pattern, name)), None)


def prompt_style_for(
    tokenizer: Any, template: str | None, model: str | None = None
) -> StyleDecision:
    """The one template decision of ``export --for litgpt`` and ``tokenize --profile litgpt``.

    ``template`` (a LitGPT prompt style name) wins; without it, the style whose format the
    tokenizer's chat template uses (ChatML -> ``qwen3``, Llama 3 headers -> ``llama3``...); with no
    chat template, the style LitGPT gives the model's name (``model``: ``Qwen/Qwen2.5-7B-Instruct``
    -> ``qwen2.5``), else LitGPT's own default ``alpaca``. LitGPT cannot train with a tokenizer's Jinja template, so when
    the chosen style renders a probe conversation differently from the tokenizer's template the
    decision carries a warning."""
    chat_template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if not isinstance(chat_template, str):
        chat_template = None
    if template is not None:
        if template not in STYLES:
            raise TokenizeError(
                f"'{template}' is not a LitGPT prompt style.",
                field="template",
                hint=f"use one of: {', '.join(STYLES)}",
            )
        style = template
    elif chat_template is None and (named := style_for_model_name(Path(model or "").name)):
        return StyleDecision(
            named,
            f"no chat template to compare with: the '{named}' prompt style LitGPT gives the model "
            f"name '{model}' is used",
        )
    elif chat_template is None:
        what = (
            "no tokenizer was given" if tokenizer is None else "the tokenizer has no chat template"
        )
        return StyleDecision(
            "alpaca",
            f"{what}: LitGPT's default prompt style 'alpaca' is used "
            "(pass --template STYLE to choose another)",
        )
    else:
        guessed = _guess_style(chat_template)
        if guessed is None:
            return StyleDecision(
                "alpaca",
                "no LitGPT prompt style matches the tokenizer's chat template: LitGPT's default "
                "'alpaca' is used, so the model is trained on another format than its own "
                "(pass --template STYLE to choose)",
            )
        style = guessed
    if chat_template is None:
        return StyleDecision(style)
    return StyleDecision(style, _difference(tokenizer, chat_template, style))


def _difference(tokenizer: Any, chat_template: str, style: str) -> str | None:
    """A warning when ``style`` does not render the probe conversation as the chat template."""
    from .hf_bounds import bounded_apply

    if style in TURNS:
        # every probe exchange: the earlier ones written as the style's chat turns
        history, turns = "", TURNS[style]
        for user, answer in _PROBE[:-1]:
            history += user + turns.answer_open + answer + turns.answer_close + turns.user_open
        probe, (user, answer) = _PROBE, (history + _PROBE[-1][0], _PROBE[-1][1])
    else:
        probe, (user, answer) = _PROBE[:1], _PROBE[0]  # a single-turn style: the first exchange
    convo = [
        {"role": r, "content": c} for u, a in probe for r, c in (("user", u), ("assistant", a))
    ]
    try:
        theirs = str(
            bounded_apply(
                tokenizer, convo, chat_template=chat_template, tokenize=False, name="litgpt"
            )
        )
    except (SftforgeError, ValueError, TypeError, KeyError):
        return None  # the template cannot render a plain conversation: nothing to compare with
    ours = apply_style(style, {"instruction": user, "input": "", "output": answer}) + answer
    eos = getattr(tokenizer, "eos_token", None) or ""
    if theirs.startswith(ours) and theirs[len(ours) :].strip() in ("", eos.strip()):
        return None
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
    at = min(len(ours), len(theirs)) if at is None else at
    return (
        f"LitGPT's '{style}' prompt style does not write conversations as the tokenizer's chat "
        f"template does (from character {at}: LitGPT {ours[at : at + 30]!r}, the template "
        f"{theirs[at : at + 30]!r}); the model is fine-tuned on LitGPT's format"
    )


def dropped_bos_note(folder: Path, style: str) -> str | None:
    """A warning when LitGPT's Tokenizer takes the first token off every prompt of ``style``:
    the prompt starts with the tokenizer's BOS token, which LitGPT removes for a model it does
    not add a BOS for (minimind's BOS is ``<|im_start|>``, so ChatML prompts lose their first)."""
    lit = LitgptTokenizer(folder)
    probe = apply_style(style, {"instruction": "x", "input": "", "output": "y"})
    (ids,) = lit.encode_many([probe])
    if lit.use_bos or not ids or ids[0] != lit.bos_id:
        return None
    token = lit.processor.id_to_token(ids[0])
    return (
        f"LitGPT removes the first token of every prompt ({token!r}: the tokenizer's BOS token, "
        "which LitGPT does not add for this model), so the prompts it trains on start without it"
    )


@dataclass
class LitgptProfile(Profile):
    """LitGPT ``JSON`` data module + ``SFTDataset`` encoding (see the module docstring)."""

    name = "litgpt"

    def __post_init__(self) -> None:
        unknown = set(self.options) - _KNOWN_OPTIONS
        if unknown:
            raise TokenizeError(
                f"unknown litgpt option(s): {', '.join(sorted(unknown))}",
                field="option",
                hint=f"the litgpt profile takes: {', '.join(sorted(_KNOWN_OPTIONS))}",
            )
        self.mask_prompt = _flag(self.options.get("mask_prompt", True), "mask_prompt")
        self.allow_lossy = _flag(self.options.get("allow_lossy", False), "allow_lossy")
        # the tokenizer's folder is the model's, as the export's --model (for a name-only match)
        model = getattr(self.tokenizer, "name_or_path", None)
        self.decision = prompt_style_for(self.tokenizer, self.template, model)
        self.style = self.decision.style
        self.lit = LitgptTokenizer(tokenizer_folder(self.tokenizer))
        self.max_seq_length = -1 if self.max_length is None else self.max_length

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        planned: list[tuple[Sample, list[dict[str, Any]] | str]] = []
        texts: list[str] = []
        for sample in samples:
            try:
                records = litgpt_records(sample, self.style, LossLog(allow=self.allow_lossy))
            except SftforgeError as exc:
                planned.append((sample, exc.message))
                continue
            planned.append((sample, records))
            for rec in records:
                texts += [apply_style(self.style, rec), rec["output"]]
        ids = iter(self.lit.encode_many(texts))
        out: list[Encoded | Rejected] = []
        for sample, made in planned:
            if isinstance(made, str):
                out.append(self.reject(sample, made))
                continue
            out += [self._row(sample, next(ids), next(ids)) for _ in made]
        return out

    def _row(self, sample: Sample, prompt_ids: list[int], answer_ids: list[int]) -> Encoded:
        n = self.max_seq_length
        prompt = self.lit.finish(prompt_ids, max_length=n)
        answer = self.lit.finish(answer_ids, bos=False, eos=True, max_length=n)
        ids = prompt + answer
        if n > 0:
            ids = ids[:n]
        labels = list(ids)
        if self.mask_prompt:
            labels[: len(prompt)] = [IGNORE_INDEX] * min(len(prompt), len(labels))
        return Encoded(ids, labels, [1] * len(ids), sample.id)


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise TokenizeError(f"litgpt option {name} must be true or false, not {value!r}", field=name)
