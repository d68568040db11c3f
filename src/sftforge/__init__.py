"""sftforge: build the datasets chat models are fine-tuned on."""

from __future__ import annotations

from .api import Reader, ReadStats, WriteResult, read, read_documents, write
from .errors import SftforgeError
from .formats.columns import ColumnMap
from .pipeline.run import run_recipe
from .sample import Document, Media, Message, Sample, ToolCall

__version__ = "0.1.0"

__all__ = [
    "ColumnMap",
    "Document",
    "Media",
    "Message",
    "ReadStats",
    "Reader",
    "Sample",
    "SftforgeError",
    "ToolCall",
    "WriteResult",
    "__version__",
    "read",
    "read_documents",
    "run_recipe",
    "write",
]
