"""Formats: translations between external record layouts and ``Sample``/``Document``.

Importing this package registers every format (``FORMATS``, ``get_format``). See docs/formats.md.
"""

from __future__ import annotations

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
from .columns import ColumnMap
from .columns_guess import propose_columns
from .detect import detect_format
from .fastchat import FastChatFormat
from .flat import FlatFormat
from .litgpt import LitGPTFormat
from .llamafactory import (
    DatasetEntry,
    DatasetFeatures,
    dataset_info_entry,
    format_from_entry,
    load_dataset_info,
)
from .llamafactory_v1 import LlamaFactoryV1Format
from .mapped import MappedFormat
from .openai import OpenAIFormat
from .preference import PreferenceFormat
from .sharegpt import ShareGPTFormat
from .swift import SwiftFormat
from .text import TextFormat
from .xtuner import XTunerFormat

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
