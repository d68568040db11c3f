"""What LLaMA-Factory encodes with: the template decision and the data options, decided once.

``export --for llamafactory`` writes these into ``train_lora_sft.yaml`` and ``tokenize --profile
llamafactory`` encodes with them, through the same two functions, so the two always agree:

* :func:`choose_lf_template` - LLaMA-Factory 0.9.5 ``get_template_and_fix_tokenizer``: a named
  template is used as named; with ``template`` not set, a tokenizer with a chat template has it
  cut into slots (``parse_template``, reproduced by :func:`parse_chat_template`) and one without
  gets the ``empty`` template. The export leaves ``template`` out of the config in that case
  (LLaMA-Factory then does the parsing itself, from the model the config names) rather than
  writing the ``default`` template, which is the plain ``Human:``/``Assistant:`` format.
* :func:`check_lf_options` - the ``DataArguments`` that change tokens and that the profile
  reproduces, checked and typed the way the YAML needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...errors import TokenizeError
from .llamafactory_templates import EOS, LFTemplate, Slot, get_lf_template

__all__ = [
    "LF_OPTIONS",
    "LF_TOOL_FORMATS",
    "LFTemplateChoice",
    "apply_tool_format",
    "check_lf_options",
    "choose_lf_template",
    "parse_chat_template",
]

# LLaMA-Factory's DataArguments that change the tokens of a row, as the profile takes them (the
# cutoff is --max-len, the template --template): name -> the kinds of value it accepts
LF_OPTIONS: dict[str, str] = {
    "train_on_prompt": "bool",
    "mask_history": "bool",
    "enable_thinking": "bool or null",
    "preserve_thinking": "bool",
    "default_system": "text",
    "tool_format": "tool format",
}
# the tool formats of data/tool_utils.py the profile reproduces (llamafactory_tools.py)
LF_TOOL_FORMATS = ("default", "qwen", "glm4", "llama3", "mistral")
# DataArguments that change tokens but are not reproduced, or are set another way: why
_OTHER_KEYS = {
    "cutoff_len": "the cutoff is --max-len",
    "template": "the template is --template",
    "packing": "packing is not reproduced by the llamafactory profile",
    "neat_packing": "packing is not reproduced by the llamafactory profile",
}

Source = Literal["named", "tokenizer", "empty", "model"]


@dataclass(frozen=True, slots=True)
class LFTemplateChoice:
    """The template LLaMA-Factory renders with.

    ``name`` is the config's ``template`` value (``None``: the key is left out). ``source``:
    ``named`` (that built-in), ``tokenizer`` (the tokenizer's own chat template, parsed),
    ``empty`` (a tokenizer without a chat template: LLaMA-Factory's ``empty`` template, no role
    markers at all) or ``model`` (``template`` left out and the tokenizer not known here: one of
    the last two, decided by the model's tokenizer on the training machine).
    """

    name: str | None
    source: Source

    def build(self, tokenizer: Any) -> LFTemplate:
        """The template LLaMA-Factory builds for ``tokenizer`` (a fresh copy)."""
        if self.name is not None:
            return get_lf_template(self.name)
        if isinstance(getattr(tokenizer, "chat_template", None), str):
            return parse_chat_template(tokenizer)
        return get_lf_template("empty")


def choose_lf_template(tokenizer: Any | None, template: str | None) -> LFTemplateChoice:
    """THE template decision for LLaMA-Factory, from the model's tokenizer (``None``: not known)
    and ``--template`` (``None``: not given). Used by the profile and by the export."""
    if template is not None:
        return LFTemplateChoice(template, "named")
    if tokenizer is None:
        return LFTemplateChoice(None, "model")
    if isinstance(getattr(tokenizer, "chat_template", None), str):
        return LFTemplateChoice(None, "tokenizer")
    return LFTemplateChoice(None, "empty")


def check_lf_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options as LLaMA-Factory's YAML needs them, or one error naming what is wrong.

    Refused: names the profile does not know (the cutoff and the template have their own flags),
    values of the wrong kind (``mask_history=maybe`` would be true for LLaMA-Factory), the pair
    LLaMA-Factory itself refuses, and tool formats the profile does not reproduce.
    """
    unknown = sorted(set(options) - set(LF_OPTIONS))
    if unknown:
        why = "; ".join(_OTHER_KEYS[k] for k in unknown if k in _OTHER_KEYS)
        raise TokenizeError(
            f"unknown llamafactory option(s): {', '.join(unknown)}" + (f" ({why})" if why else ""),
            field="option",
            hint="llamafactory options: " + ", ".join(LF_OPTIONS),
        )
    out: dict[str, Any] = {}
    for key, value in options.items():
        kind = LF_OPTIONS[key]
        if kind.startswith("bool") and not (
            isinstance(value, bool) or (value is None and kind == "bool or null")
        ):
            raise TokenizeError(
                f"llamafactory option {key} takes true or false, not {value!r}.", field="option"
            )
        if kind == "text":
            value = "" if value is None else str(value)
        if kind == "tool format" and value not in LF_TOOL_FORMATS:
            raise TokenizeError(
                f"llamafactory tool_format {value!r} is not reproduced by the llamafactory profile.",
                field="option",
                hint="use one of: " + ", ".join(LF_TOOL_FORMATS),
            )
        out[key] = value
    if out.get("train_on_prompt") and out.get("mask_history"):
        raise TokenizeError(
            "`mask_history` is incompatible with `train_on_prompt` (LLaMA-Factory)", field="option"
        )
    return out


def apply_tool_format(tpl: LFTemplate, tool_format: str) -> None:
    """``get_template_and_fix_tokenizer`` with ``tool_format`` set: the function turn becomes
    ``{{content}}`` + EOS (without the template's own wrapping) in that format, and so do the
    tools in the system prompt."""
    slots: list[Slot] = ["{{content}}"] if tpl.efficient_eos else ["{{content}}", EOS]
    tpl.function = slots
    tpl.function_tool_format = tool_format
    tpl.tools_tool_format = tool_format


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
