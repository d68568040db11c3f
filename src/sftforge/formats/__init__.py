"""Formats: translations between external record layouts and ``Sample``/``Document``.

Importing this package registers every format (``FORMATS``, ``get_format``). See docs/formats.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import (  # noqa: F401  (imported to register them)
    alpaca,
    fastchat,
    flat,
    litgpt,
    llamafactory_v1,
    openai,
    preference,
    sharegpt,
    swift,
    text,
    xtuner,
)
from .alpaca import AlpacaFormat
from .base import FORMATS, Capabilities, Format, LossLog, get_format, register_format
from .detect import detect_format
from .fastchat import FastChatFormat
from .flat import FlatFormat
from .litgpt import LitGPTFormat
from .llamafactory_v1 import LlamaFactoryV1Format
from .openai import OpenAIFormat
from .preference import PreferenceFormat
from .sharegpt import ShareGPTFormat
from .swift import SwiftFormat
from .text import TextFormat
from .xtuner import XTunerFormat

if TYPE_CHECKING:
    from .columns import ColumnMap
    from .columns_guess import propose_columns
    from .llamafactory import (
        DatasetEntry,
        DatasetFeatures,
        dataset_info_entry,
        format_from_entry,
        load_dataset_info,
    )
    from .mapped import MappedFormat

__all__ = [
    "FORMATS",
    "AlpacaFormat",
    "Capabilities",
    "ColumnMap",
    "DatasetEntry",
    "DatasetFeatures",
    "FastChatFormat",
    "FlatFormat",
    "Format",
    "LitGPTFormat",
    "LlamaFactoryV1Format",
    "LossLog",
    "MappedFormat",
    "OpenAIFormat",
    "PreferenceFormat",
    "ShareGPTFormat",
    "SwiftFormat",
    "TextFormat",
    "XTunerFormat",
    "dataset_info_entry",
    "detect_format",
    "format_from_entry",
    "get_format",
    "load_dataset_info",
    "propose_columns",
    "register_format",
]

# names imported on first use (PEP 562): a conversion needs neither LLaMA-Factory's dataset_info
# nor column mappings, and importing them takes a noticeable part of converting a small file
_LAZY = {
    "DatasetEntry": "llamafactory", "DatasetFeatures": "llamafactory",
    "dataset_info_entry": "llamafactory", "format_from_entry": "llamafactory",
    "load_dataset_info": "llamafactory", "MappedFormat": "mapped", "ColumnMap": "columns",
    "propose_columns": "columns_guess",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
