"""cli tests: the io tests' ``qa`` format and fixtures, registered for each test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "io"))
from io_support import QAFormat

from sftforge.formats.base import FORMATS, Format


@pytest.fixture(autouse=True)
def qa_format(monkeypatch: pytest.MonkeyPatch) -> Format:
    fmt = QAFormat()
    monkeypatch.setitem(FORMATS, "qa", fmt)
    return fmt
