"""io tests: the ``qa`` test format is registered for each test (and removed after)."""

from __future__ import annotations

import pytest
from io_support import QAFormat

from sftforge.formats.base import FORMATS, Format


@pytest.fixture(autouse=True)
def qa_format(monkeypatch: pytest.MonkeyPatch) -> Format:
    fmt = QAFormat()
    monkeypatch.setitem(FORMATS, "qa", fmt)
    return fmt
