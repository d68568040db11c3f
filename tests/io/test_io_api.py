"""``sftforge.read``: policies, rejects, stats, stdin, format specs and documents."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from io_support import fixture, qa_samples

import sftforge
from sftforge import read, read_documents
from sftforge.errors import FormatError, InputError
from sftforge.io.encoding import detect_encoding


def test_public_names() -> None:
    for name in ("read", "write", "read_documents", "Reader", "ReadStats", "WriteResult"):
        assert name in sftforge.__all__
        assert hasattr(sftforge, name)


def test_skip_writes_each_rejected_record_with_file_line_and_reason(tmp_path: Path) -> None:
    rejects = tmp_path / "rej.jsonl"
    with read(fixture("malformed.jsonl"), "qa", on_error="skip", rejects=rejects) as reader:
        assert len(list(reader)) == 2
    lines = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert lines == [
        {
            "op": "read",
            "file": fixture("malformed.jsonl"),
            "line": 2,
            "kind": "invalid_json",
            "reason": "invalid JSON: unexpected character, expected a JSON value.",
            "error": f"{fixture('malformed.jsonl')}:2:7: invalid JSON: unexpected character, "
            "expected a JSON value. Fix: fix the JSON at that position (e.g. a missing quote, "
            "comma or bracket)",
            "raw": '{"q": What is 2+2?", "a": "4"}',
        }
    ]


def test_format_error_rejects_keep_the_record_value() -> None:
    got: list[dict[str, Any]] = []
    with read(fixture("wrong_type.jsonl"), "qa", on_error="skip", rejects=got.append) as reader:
        list(reader)
    assert [(e["line"], e["kind"], e["reason"], e["raw"]) for e in got] == [
        (2, "format", "'a' must be a string, not int.", '{"q":"What is 2+2?","a":4}')
    ]


def test_stats_always_add_up() -> None:
    with read(fixture("malformed.jsonl"), "qa", on_error="skip") as reader:
        list(reader)
    s = reader.stats
    assert (s.read, s.ok, s.rejected) == (3, 2, 1) and s.read == s.ok + s.rejected


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = Path(fixture("good.jsonl.gz")).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with read("-") as reader:
        assert list(reader) == qa_samples()
    assert (reader.name, reader.source.compression) == ("<stdin>", "gz")


def test_missing_file() -> None:
    with pytest.raises(InputError) as info:
        read("/nonexistent/x.jsonl")
    assert str(info.value) == (
        "/nonexistent/x.jsonl: no such file. Fix: check the path "
        "(relative paths start at the current directory)"
    )


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(FormatError) as info:
        read(fixture("good.jsonl"), "nope")
    assert str(info.value).startswith("unknown format 'nope'. Fix: use one of: ")
    assert "qa" in str(info.value) and "sftforge" in str(info.value)


def test_undetectable_records_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"foo": 1}\n')
    with pytest.raises(FormatError) as info:
        read(path)
    assert str(info.value).startswith(f"{path}: cannot detect the format")


def test_explicit_container_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes('{"q": "é", "a": "ü"}\n'.encode("latin-1"))
    with read(path, container="jsonl", encoding="latin-1") as reader:
        assert [s.messages[0].content for s in reader] == ["é"]


def test_read_documents_whole_file_by_default() -> None:
    docs = list(read_documents(fixture("paragraphs.txt")))
    assert [d.text for d in docs] == ["第一段\n第一段第二行\n\n\nsecond paragraph"]


def test_read_documents_by_paragraph() -> None:
    docs = list(read_documents(fixture("paragraphs.txt"), text_mode="paragraph"))
    assert [d.text for d in docs] == ["第一段\n第一段第二行", "second paragraph"]


ENCODINGS = [
    (b"plain ascii", ("utf-8", 0)),
    ("中文 text".encode(), ("utf-8", 0)),
    (b"\xef\xbb\xbf{}", ("utf-8-sig", 3)),
    ("中文".encode("utf-16"), ("utf-16-le", 2)),
    ("{}".encode("utf-16-be"), ("utf-16-be", 0)),
    ("{}".encode("utf-16-le"), ("utf-16-le", 0)),
    ("中文内容，简体汉字的句子。".encode("gbk"), ("gb18030", 0)),
    ("中文".encode("utf-32"), ("utf-32-le", 4)),
]


@pytest.mark.parametrize(("head", "expected"), ENCODINGS)
def test_detect_encoding(head: bytes, expected: tuple[str, int]) -> None:
    assert detect_encoding(head) == expected
