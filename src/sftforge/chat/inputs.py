"""Reading the samples to tokenize: one function, so the reader is chosen in one place.

It is ``sftforge.read``: any container, compression and format it knows (detected from the first
records unless ``format`` names one); a bad record fails with file, line and the cause.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from ..api import read
from ..progress import track
from ..sample import Sample

__all__ = ["read_samples"]


def read_samples(
    path: str | Path, format: str | None = None, *, label: str = "reading", line: bool = False
) -> Generator[Sample, None, None]:
    """Samples from ``path``; the file is closed when the iterator is exhausted or closed.
    Reading shows as a progress stage called ``label`` (by bytes of the file: ``progress``);
    ``line``: print its one line at the end when stderr is not a terminal."""
    with read(str(path), format) as reader:
        for item in track(reader, label, sizes=reader.progress, line=line):
            if isinstance(item, Sample):
                yield item
