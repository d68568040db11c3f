"""The studio: a web workspace over the library (``sftforge studio``, extra ``[studio]``).

One process, embedded storage: SQLite (``store.py``) for metadata, edits and jobs, Parquet
(``versions.py``) for immutable dataset versions. Routes call the same library functions as the
CLI (``sftforge.api.read``/``write``, ``sftforge.export``). See docs/studio.md.
"""

from __future__ import annotations

__all__: list[str] = []
