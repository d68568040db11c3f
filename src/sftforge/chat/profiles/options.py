"""Trainer options given on the command line as ``KEY=VALUE`` (``--option`` of ``tokenize
--profile`` and ``export``): one spelling for both, so the options an export writes into a
trainer's config are the ones ``tokenize --profile`` encodes with.

A value is read as a YAML scalar or flow list (``true``, ``3``, ``0.5``, ``[assistant, tool]``),
anything else stays a string; the key is the trainer's own option name (``mask_history``,
``assistant_only_loss``, ``train_on_eos``...). Each profile says which names it knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...errors import SftforgeError

__all__ = ["parse_options"]

# trainer settings that have their own flag (get_profile's own arguments), under the names the
# trainers give them: never an --option, so each has one spelling on the command line
_FLAGS = {
    "max_length": "--max-len",
    "cutoff_len": "--max-len",  # LLaMA-Factory
    "sequence_len": "--max-len",  # axolotl
    "max_seq_length": "--max-len",  # LitGPT
    "template": "--template",
    "prompt_template": "--template",  # XTuner
    "prompt_style": "--template",  # LitGPT
}
_MAX_VALUE = 4096  # characters: an option value is a switch or a short list, never a document


def parse_options(items: Iterable[str] | None) -> dict[str, Any]:
    """``["mask_history=true", "roles_to_train=[assistant]"]`` -> ``{"mask_history": True, ...}``."""
    options: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SftforgeError(
                f"--option '{item}' is not KEY=VALUE.",
                field="option",
                hint="for example --option mask_history=true (the trainer's own option name)",
            )
        if key in _FLAGS:
            raise SftforgeError(
                f"--option {key} is set with {_FLAGS[key]}, not --option.",
                field="option",
                hint=f"pass {_FLAGS[key]} VALUE (it is written into the trainer's config)",
            )
        if key in options:
            raise SftforgeError(f"--option {key} is given twice.", field="option")
        options[key] = _value(raw.strip(), key)
    return options


def _value(raw: str, key: str) -> Any:
    if len(raw) > _MAX_VALUE:
        raise SftforgeError(f"--option {key}: the value is too long.", field="option")
    if not raw:
        return ""
    import yaml  # only when an option is given: `tokenize --profile` without one never needs it

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return value
    return raw  # a mapping or nested value is not an option value: keep the text as given
