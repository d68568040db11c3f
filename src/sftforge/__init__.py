"""sftforge: build the datasets chat models are fine-tuned on."""

from __future__ import annotations

from .api import Reader, ReadStats, WriteResult, read, read_documents, write
from .errors import SftforgeError
from .sample import Document, Media, Message, Sample, ToolCall

__version__ = "0.1.0"

__all__ = [
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
    "write",
]
