"""Where the project's shared development data lives: ``../shared/data`` beside the repository
(as on developers' machines and in CI), or ``$SFTFORGE_DATA``. Tests that use it skip when absent."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SHARED_DATA"]

SHARED_DATA = Path(
    os.environ.get("SFTFORGE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
