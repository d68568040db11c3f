"""Trainer profiles: encode a Sample the way a training framework would, token for token.

``get_profile("llamafactory", tokenizer, template="qwen", max_length=2048)`` returns a
:class:`Profile` whose ``encode``/``encode_batch`` give ``input_ids``, ``labels`` (unshifted,
``-100`` where no loss) and ``attention_mask``. Each profile module names the framework version
whose code it reproduces and what it leaves out.
"""

from __future__ import annotations

import importlib
from typing import Any

from ...errors import TokenizeError
from .base import IGNORE_INDEX, Encoded, Profile, Rejected, encode_texts, load_tokenizer

__all__ = [
    "IGNORE_INDEX",
    "PROFILES",
    "Encoded",
    "Profile",
    "Rejected",
    "encode_texts",
    "get_profile",
    "load_tokenizer",
]


# profile name -> (module, class); imported on first use
_CLASSES: dict[str, tuple[str, str] | None] = {
    "llamafactory": ("llamafactory", "LlamaFactoryProfile"),
    "xtuner": ("xtuner", "XtunerProfile"),
    "swift": ("swift", "SwiftProfile"),
    "axolotl": ("axolotl", "AxolotlProfile"),
    "trl": ("trl", "TrlProfile"),
    "litgpt": ("litgpt", "LitgptProfile"),
}
PROFILES: tuple[str, ...] = tuple(_CLASSES)
# the trainers that render with a tokenizer's own Jinja chat template (``chat_template``)
_OWN_TEMPLATE_PROFILES: tuple[str, ...] = ("trl", "axolotl", "swift")


def _names_own_template(template: str) -> bool:
    """``tokenizer``/``tokenizer:NAME`` or a template file or folder, not a framework's name."""
    from pathlib import Path

    return (
        template == "tokenizer"
        or template.startswith("tokenizer:")
        or template.endswith((".jinja", ".gguf", ".json"))
        or Path(template).is_dir()
    )


def get_profile(
    name: str,
    tokenizer: Any,
    *,
    template: str | None = None,
    max_length: int | None = None,
    **options: Any,
) -> Profile:
    """The profile called ``name`` (one of :data:`PROFILES`), ready to encode. For the
    trainers that render with a tokenizer's chat template (``trl``, ``axolotl``, and ``swift``'s
    jinja backend),
    ``template`` may be ``tokenizer``, ``tokenizer:NAME`` or a template file (as in native mode):
    it becomes their ``chat_template`` option."""
    if name not in _CLASSES:
        raise TokenizeError(
            f"unknown trainer profile '{name}'", hint=f"use one of: {', '.join(PROFILES)}"
        )
    entry = _CLASSES[name]
    if entry is None:
        raise TokenizeError(
            f"the '{name}' trainer profile is not implemented yet",
            hint=f"use one of: {', '.join(k for k, v in _CLASSES.items() if v)}",
        )
    if template is not None and _names_own_template(template):
        if name not in _OWN_TEMPLATE_PROFILES:
            raise TokenizeError(
                f"the '{name}' profile encodes with {name}'s own templates, not a tokenizer's "
                f"chat template ('{template}').",
                field="template",
                hint=f"pass a {name} template name, or use --profile "
                f"{' or '.join(_OWN_TEMPLATE_PROFILES)} (or native mode) with '{template}'",
            )
        from ..templates import resolve_template

        options = {**options, "chat_template": resolve_template(template, tokenizer).source}
        template = None
    module, cls_name = entry
    cls: type[Profile] = getattr(importlib.import_module(f"{__name__}.{module}"), cls_name)
    profile = cls(tokenizer, template=template, max_length=max_length, options=options)
    own = getattr(profile, "chat_template", None)
    if name in _OWN_TEMPLATE_PROFILES and isinstance(own, str):
        # these render with transformers' Jinja: a template that goes past the bounds on a probe
        # conversation (so on every sample) stops the run before any work; trl's and axolotl's
        # per-sample renders are bounded too (hf_bounds.bounded_apply), swift's not yet
        from .hf_bounds import check_bounds

        check_bounds(tokenizer, own, name)
    return profile
