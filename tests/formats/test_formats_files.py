"""Formats through real files: write with sftforge.write, read back with sftforge.read.

Every sample format in every container it is used with; read back both with the format named and
detected, the conversations equal what was written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_records import GOOD

import sftforge
from sftforge.formats import get_format
from sftforge.sample import Sample

CONTAINERS = ["jsonl", "json", "parquet"]
FORMATS = [n for n in GOOD if n != "text"]


def _samples(name: str) -> list[Sample]:
    fmt = get_format(name)
    return [fmt.parse(v) for v in GOOD[name]]


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("name", FORMATS)
def test_write_then_read_gives_the_same_conversations(
    name: str, container: str, tmp_path: Path
) -> None:
    samples = _samples(name)
    path = tmp_path / f"out.{container}"
    result = sftforge.write(samples, path, name)
    assert result.count == len(samples)
    with sftforge.read(path, name) as reader:
        named = list(reader)
    with sftforge.read(path) as reader:
        detected = list(reader)
    for got in (named, detected):
        assert len(got) == len(samples)
        assert all(a.same_content(b) for a, b in zip(samples, got, strict=True))
        assert [s.id for s in got] == [s.id for s in samples]


def test_litgpt_three_column_csv(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("instruction,input,output\nAdd,1 + 1,2\n说你好,,你好\n", encoding="utf-8")
    with sftforge.read(path, "litgpt") as reader:
        samples = list(reader)
    assert [(s.messages[0].content, s.messages[1].content) for s in samples] == [
        ("Add\n1 + 1", "2"),
        ("说你好", "你好"),
    ]
    sftforge.write(samples, tmp_path / "back.csv", "litgpt")
    assert (tmp_path / "back.csv").read_text(encoding="utf-8").splitlines() == [
        "instruction,input,output",
        "Add,1 + 1,2",
        "说你好,,你好",
    ]


def test_documents_through_txt_and_jsonl(tmp_path: Path) -> None:
    docs = [get_format("text").parse(v) for v in GOOD["text"]]
    sftforge.write(docs, tmp_path / "docs.jsonl", "text")
    back = list(sftforge.read_documents(tmp_path / "docs.jsonl", "text"))
    assert [(d.text, d.id) for d in back] == [(d.text, d.id) for d in docs]
