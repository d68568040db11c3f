"""Reading the samples to tokenize: one function, so the reader is chosen in one place.

It is ``sftforge.read``: any container, compression and format it knows (detected from the first
records unless ``format`` names one); a bad record fails with file, line and the cause.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from ..api import ColumnsArg, read
from ..io.rejects import RejectsTarget
from ..progress import track
from ..sample import Sample

__all__ = ["read_samples"]


def read_samples(
    path: str | Path,
    format: str | None = None,
    columns: ColumnsArg = None,
    *,
    on_error: str = "raise",
    rejects: RejectsTarget = None,
    lines: dict[int, int] | None = None,
    label: str = "reading",
    line: bool = False,
) -> Generator[Sample, None, None]:
    """Samples from ``path`` (``columns``: a column mapping instead of ``format``); the file is
    closed when the iterator is exhausted or closed.

    ``on_error``/``rejects`` as for ``sftforge.read``. ``lines``, when given, maps ``id(sample)``
    to the line its record starts on, for a caller that rejects samples later (an entry stays
    right while its sample is alive: a new object reusing the id overwrites it when yielded).
    Reading shows as a progress stage called ``label`` (by bytes of the file: ``progress``);
    ``line``: print its one line at the end when stderr is not a terminal."""
    with read(str(path), format, columns=columns, on_error=on_error, rejects=rejects) as reader:
        for item in track(reader, label, sizes=reader.progress, line=line):
            if isinstance(item, Sample):
                if lines is not None:
                    lines[id(item)] = reader.line
                yield item
