"""``../shared/data`` beside the repository (or ``$SFTFORGE_DATA``): the benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("SFTFORGE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
