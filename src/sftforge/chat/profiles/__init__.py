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
}
PROFILES: tuple[str, ...] = tuple(_CLASSES)


def get_profile(
    name: str,
    tokenizer: Any,
    *,
    template: str | None = None,
    max_length: int | None = None,
    **options: Any,
) -> Profile:
    """The profile called ``name`` (one of :data:`PROFILES`), ready to encode."""
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
    module, cls_name = entry
    cls: type[Profile] = getattr(importlib.import_module(f"{__name__}.{module}"), cls_name)
    return cls(tokenizer, template=template, max_length=max_length, options=options)
