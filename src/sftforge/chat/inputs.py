"""Reading the samples to tokenize: one function, so the reader is chosen in one place.

It is ``sftforge.read``: any container, compression and format it knows (detected from the first
records unless ``format`` names one); a bad record fails with file, line and the cause.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from ..api import ColumnsArg, read
from ..sample import Sample

__all__ = ["read_samples"]


def read_samples(
    path: str | Path, format: str | None = None, columns: ColumnsArg = None
) -> Generator[Sample, None, None]:
    """Samples from ``path`` (``columns``: a column mapping instead of ``format``); the file is
    closed when the iterator is exhausted or closed."""
    with read(str(path), format, columns=columns) as reader:
        for item in reader:
            if isinstance(item, Sample):
                yield item
