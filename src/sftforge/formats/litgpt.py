"""LitGPT's instruction data: JSON ``{"instruction", "input", "output"}`` and its 3-column CSV.

Single-turn, no system prompt: Alpaca's columns without history, system, preference or media.
CSV rows arrive from the container reader as ``dict[str, str]`` and parse the same way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .alpaca import AlpacaFormat
from .base import register_format

__all__ = ["LitGPTFormat"]

_OFF = ("history", "system", "tools", "images", "videos", "audios", "chosen", "rejected", "kto_tag")


@register_format
class LitGPTFormat(AlpacaFormat):
    name = "litgpt"

    def __init__(self) -> None:
        super().__init__(dict.fromkeys(_OFF), ranking=False)
        # a 3-column CSV has no room for an id or other columns
        self.capabilities = replace(self.capabilities, ids=False, fields=False)

    def detect(self, value: Any) -> float:
        if type(value) is not dict or "instruction" not in value or "output" not in value:
            return 0.0
        # the same records as Alpaca; Alpaca carries more, so it wins unless asked for
        return 0.85 if set(value) <= {"instruction", "input", "output"} else 0.0
