"""Every good fixture (container x compression x encoding) reads as the same three Samples."""

from __future__ import annotations

import pytest
from io_support import fixture, qa_samples, records

from sftforge import read

GOOD = [
    # (file, container, encoding, compression)
    ("good.jsonl", "jsonl", "utf-8", None),
    ("good.json", "json", "utf-8", None),
    ("good_minified.json", "json", "utf-8", None),
    ("good_jsonl_named.json", "jsonl", "utf-8", None),
    ("good_bom.jsonl", "jsonl", "utf-8", None),
    ("good_utf16.jsonl", "jsonl", "utf-16-le", None),
    ("good_utf16be.json", "json", "utf-16-be", None),
    ("good_gbk.jsonl", "jsonl", "gb18030", None),
    ("good_crlf.jsonl", "jsonl", "utf-8", None),
    ("good_blank_lines.jsonl", "jsonl", "utf-8", None),
    ("good.csv", "csv", "utf-8", None),
    ("good_gb18030.csv", "csv", "gb18030", None),
    ("good.tsv", "tsv", "utf-8", None),
    ("good.parquet", "parquet", None, None),
    ("good.jsonl.gz", "jsonl", "utf-8", "gz"),
    ("good.json.bz2", "json", "utf-8", "bz2"),
    ("good.jsonl.xz", "jsonl", "utf-8", "xz"),
    ("good.jsonl.zst", "jsonl", "utf-8", "zst"),
    ("good_gz_no_ext.data", "jsonl", "utf-8", "gz"),
]


@pytest.mark.parametrize(("name", "container", "encoding", "compression"), GOOD)
def test_good_fixture_reads_the_same_samples(
    name: str, container: str, encoding: str | None, compression: str | None
) -> None:
    with read(fixture(name)) as reader:
        samples = list(reader)
    assert reader.format.name == "qa"
    assert (reader.source.container, reader.source.encoding, reader.source.compression) == (
        container,
        encoding,
        compression,
    )
    assert samples == qa_samples()
    assert reader.stats.to_dict() == {"read": 3, "ok": 3, "rejected": 0, "by_reason": {}}


def test_record_lines_point_at_each_record_start() -> None:
    assert [r.line for r in records(fixture("good.json"))] == [2, 6, 10]
    assert [r.line for r in records(fixture("good_blank_lines.jsonl"))] == [1, 3, 5]
    assert [r.line for r in records(fixture("good.csv"))] == [2, 3, 4]
    assert [r.line for r in records(fixture("good.parquet"))] == [1, 2, 3]


def test_single_object_file_is_one_record() -> None:
    recs = records(fixture("good_object.json"))
    assert [(r.value, r.line) for r in recs] == [({"q": "你好，世界", "a": "Hello, world"}, 1)]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("line", [("第一行文本", 1), ("second line", 2), ("  third line  ", 4)]),
        ("paragraph", [("第一行文本\nsecond line", 1), ("  third line  ", 4)]),
        ("document", [("第一行文本\nsecond line\n\n  third line", 1)]),
    ],
)
def test_text_modes(mode: str, expected: list[tuple[str, int]]) -> None:
    recs = records(fixture("lines.txt"), text_mode=mode)
    assert [(r.value["text"], r.line) for r in recs] == expected


def test_paragraph_mode_keeps_inner_lines() -> None:
    recs = records(fixture("paragraphs.txt"), text_mode="paragraph")
    assert [(r.value, r.line) for r in recs] == [
        ({"text": "第一段\n第一段第二行"}, 1),
        ({"text": "second paragraph"}, 5),
    ]
