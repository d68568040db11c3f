"""sftforge: build the datasets chat models are fine-tuned on.

The public names are imported on first use (PEP 562), so ``import sftforge.errors`` or the CLI's
``sftforge --help`` do not pay for the readers, the formats and the pipeline.
"""

from __future__ import annotations

# no imports at all here: ``sftforge version`` and ``sftforge --help`` need nothing more (typing
# and its re take longer to import than the rest of those answers); mypy reads this flag as
# typing's own
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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

# public name -> the module that defines it
_HOMES = {
    "Reader": "api", "ReadStats": "api", "WriteResult": "api", "read": "api",
    "read_documents": "api", "write": "api", "SftforgeError": "errors",
    "ColumnMap": "formats.columns", "run_recipe": "pipeline.run", "Document": "sample",
    "Media": "sample", "Message": "sample", "Sample": "sample", "ToolCall": "sample",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sftforge' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
