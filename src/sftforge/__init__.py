"""sftforge: build the datasets chat models are fine-tuned on."""

from __future__ import annotations

from .errors import SftforgeError
from .pipeline.run import run_recipe
from .sample import Document, Media, Message, Sample, ToolCall

__version__ = "0.1.0"

__all__ = [
    "Document",
    "Media",
    "Message",
    "Sample",
    "SftforgeError",
    "ToolCall",
    "__version__",
    "run_recipe",
]
