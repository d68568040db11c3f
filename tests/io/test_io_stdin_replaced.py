"""Reading ``-`` when an embedding program has replaced ``sys.stdin`` with a text stream."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from sftforge.errors import InputError
from sftforge.io.sources import open_input


def test_dash_with_a_text_stdin_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"instruction": "hi", "output": "yo"}\n'))
    with pytest.raises(InputError) as caught:
        open_input("-")
    assert "standard input is not a byte stream" in str(caught.value)
    assert "pass a file path" in str(caught.value)


def test_a_file_opens_and_closes_with_a_text_stdin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"instruction": "你好", "output": "好"}\n', encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    opened = open_input(str(path))
    assert b"\xe4\xbd\xa0\xe5\xa5\xbd" in opened.stream.read()
    opened.close()  # failed with AttributeError: StringIO has no .buffer
    assert opened.raw.closed
