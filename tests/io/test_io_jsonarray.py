"""The streaming JSON array splitter: exact elements and lines at any chunk size, bounded memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftforge.io.jsonarray import iter_json_array

LIMIT = 1 << 20


def split(data: bytes, chunk: int = 1 << 20) -> list[tuple[Any, int, str | None]]:
    recs = iter_json_array(io.BytesIO(data), "a.json", max_record_bytes=LIMIT, chunk_size=chunk)
    return [(r.value, r.line, str(r.error) if r.error else None) for r in recs]


CASES = [
    (b"[]", []),
    (b"  [ ]  ", []),
    (b'[1, "two", null, true, {"a": [1, {"b": "]}"}]}, [3]]', [(1, 1, None), ("two", 1, None), (None, 1, None), (True, 1, None), ({"a": [1, {"b": "]}"}]}, 1, None), ([3], 1, None)]),
    (b'[\n  {"s": "quote \\" and \\\\"},\n  {"s": "},{"}\n]', [({"s": 'quote " and \\'}, 2, None), ({"s": "},{"}, 3, None)]),
    (b'[\r\n{"a": 1},\r\n{"a": 2}\r\n]\r\n', [({"a": 1}, 2, None), ({"a": 2}, 3, None)]),
    (b'[{"a": 1}\n, {"a": 2}]', [({"a": 1}, 1, None), ({"a": 2}, 2, None)]),
    (b'[{"a": 1}, {"a": }, {"a": 3}]', [({"a": 1}, 1, None), (None, 1, "a.json:1:18: invalid JSON: unexpected character, expected a JSON value. Fix: fix the JSON at that position (e.g. a missing quote, comma or bracket)"), ({"a": 3}, 1, None)]),
    # stray separators are not records (issue 16): see test_stray_separators_are_notices
    (b"[1,]", [(1, 1, None)]),
    (b"[,1]", [(1, 1, None)]),
    (b'[{"a": "x', [(None, 1, "a.json:1:2: the file ends inside an element: the JSON array is cut off. Fix: the file is truncated; re-download or re-create it (the elements before were read)")]),
    (b"[1, 2", [(1, 1, None), (None, 1, "a.json:1:5: the file ends inside an element: the JSON array is cut off. Fix: the file is truncated; re-download or re-create it (the elements before were read)")]),
    (b"[1]\nx", [(1, 1, None), (None, 2, "a.json:2:1: unexpected content after the closing ']' of the array. Fix: remove it, or pass --container jsonl if the file holds one value per line")]),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), CASES)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_split(data: bytes, expected: list[tuple[Any, int, str | None]], chunk: int) -> None:
    assert split(data, chunk) == expected


# text without what the text checks reject on purpose (NUL, U+FFFD, Latin-1 mojibake shapes)
_chars = st.characters(exclude_categories=("Cs", "Cc")).filter(
    lambda c: not "\x80" <= c <= "\xff" and c != "\ufffd"
)
_text = st.text(_chars, max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text | st.just('"]},[{\\'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(json_values, max_size=6),
    st.sampled_from([None, 1, 2]),
    st.sampled_from([1, 7, 64, 1 << 20]),
)
def test_split_matches_a_whole_parse(values: list[Any], indent: int | None, chunk: int) -> None:
    data = json.dumps(values, ensure_ascii=False, indent=indent).encode("utf-8")
    got = split(data, chunk)
    assert [v for v, _, _ in got] == values
    assert all(err is None for _, _, err in got)
    if indent is not None and values:  # every element starts on its own line, from line 2 on
        starts = [line for _, line, _ in got]
        assert starts == sorted(starts) and starts[0] == 2


def test_huge_array_streams_in_bounded_memory(tmp_path: Path) -> None:
    """~50 MB on disk; the splitter must hold about one chunk and one element, not the file."""
    element = orjson.dumps({"instruction": "写一个故事 " * 200, "output": "x" * 4000})
    path = tmp_path / "big.json"
    count = (50 << 20) // len(element)
    with path.open("wb") as fh:
        fh.write(b"[\n")
        for i in range(count):
            fh.write(element + (b",\n" if i < count - 1 else b"\n"))
        fh.write(b"]\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            n = sum(1 for r in iter_json_array(fh, str(path), max_record_bytes=LIMIT))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == count
    assert size > 50_000_000
    assert peak < 8 << 20, (
        f"peak {peak / 2**20:.1f} MiB while reading a {size / 2**20:.0f} MiB array"
    )


def _objects(n: int) -> list[dict[str, Any]]:
    return [
        {"i": i, "text": f"第{i}条 }},\n  {{", "turns": [{"a": i}, {"b": [i, {"c": "}"}]}]}
        for i in range(n)
    ]


@pytest.mark.parametrize("indent", [None, 1, 2, 4])
@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_batched_objects_keep_values_and_lines(indent: int | None, chunk: int) -> None:
    values = _objects(300)
    text = json.dumps(values, ensure_ascii=False, indent=indent)
    got = split(text.encode("utf-8"), chunk)
    assert [v for v, _, _ in got] == values
    if indent is not None:
        lines = text.split("\n")
        starts = [i + 1 for i, line in enumerate(lines) if line == " " * indent + "{"]
        assert [line for _, line, _ in got] == starts


def test_broken_element_inside_a_batch_is_reported_alone() -> None:
    values = _objects(100)
    text = json.dumps(values, ensure_ascii=False, indent=2).encode("utf-8")
    marker = b'"i": 50,'
    broken = text.replace(marker, b'"i": 50,,')
    got = split(broken)
    errors = [(line, err) for _, line, err in got if err]
    assert len(got) == 100
    assert [v for v, _, err in got if not err] == values[:50] + values[51:]
    line = text[: text.index(marker)].count(b"\n") + 1
    assert errors == [
        (
            line - 1,
            f"a.json:{line}:13: invalid JSON: unexpected character, expected a string key. "
            "Fix: fix the JSON at that position (e.g. a missing quote, comma or bracket)",
        )
    ]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_stray_separators_are_notices_not_records(chunk: int) -> None:
    """A trailing comma or an empty element holds no data: reported with file, line and column,
    neither read nor rejected (issue 16: 2,801 records were counted as 2,802)."""
    from sftforge.io.jsonarray import JsonArraySplitter

    data = b'[\n{"a": 1},\n,\n{"a": 2},\n]'
    arr = JsonArraySplitter(io.BytesIO(data), "a.json", max_record_bytes=LIMIT, chunk_size=chunk)
    recs = list(arr.records())
    assert [(r.value, r.line, r.error) for r in recs] == [({"a": 1}, 2, None), ({"a": 2}, 4, None)]
    assert [str(n) for n in arr.notices()] == [
        "a.json:3:1: empty element: a comma with no value before it (not a record). "
        "Fix: remove the comma",
        "a.json:5:1: trailing comma before the closing ']' (not allowed in JSON; not a record). "
        "Fix: remove the comma after the last element",
    ]
