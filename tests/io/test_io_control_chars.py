"""C0 control characters in string content: rejected by the text check (JSON escapes such as
``\\u0000`` and raw bytes in CSV/text), kept with ``check_text=False``; pinned on the real
Alpaca set, which holds two such records."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftforge import read
from sftforge.errors import SftforgeError
from sftforge.io.textcheck import check_text
from shared_data import SHARED_DATA

FIX = "Fix: remove the control characters, or run the remove_control_chars operator / pass --no-check-text"
MSG = "the text contains the control character U+{:04X}: tokenizers and editors treat it as binary data."

# (raw JSON record, expected str(error) or None)
JSON_CASES = [
    (rb'{"q": "a\u0000b"}', f"f:3:9, field 'q': {MSG.format(0)} {FIX}"),
    (
        rb'{"m": [{"c": "x"}, {"c": "\u001b[31m"}]}',
        f"f:3:27, field 'm[1].c': {MSG.format(0x1B)} {FIX}",
    ),
    (rb'{"q": "ok", "a": "tab\u0007"}', f"f:3:22, field 'a': {MSG.format(7)} {FIX}"),
    (rb'{"q": "a\\\u000bb"}', f"f:3:11, field 'q': {MSG.format(0x0B)} {FIX}"),
    (rb'{"q": "\u0009\u000a\u000d\u000A\u00e9\u0020"}', None),
    (rb'{"q": "a\\u0000b"}', None),  # an escaped backslash, then the text "u0000"
    (rb'{"q": "\u007f\u0080"}', None),  # DEL and C1 are not C0
    (rb'{"q": "plain text"}', None),
]


@pytest.mark.parametrize(("raw", "expected"), JSON_CASES)
def test_json_escaped_control_chars(raw: bytes, expected: str | None) -> None:
    err = check_text(raw, "f", 3)
    assert (None if err is None else (err.kind, str(err))) == (
        None if expected is None else ("control_chars", expected)
    )


# (raw bytes of a CSV row / text line, expected str(error) or None)
RAW_CASES = [
    (b"a\x07b", f"f:1:2: {MSG.format(7)} {FIX}"),
    (b"ab\x1f", f"f:1:3: {MSG.format(0x1F)} {FIX}"),
    (b"a\tb\r\nc", None),
    (b"a\\u0000b", None),  # not JSON: the six characters are text
]


@pytest.mark.parametrize(("raw", "expected"), RAW_CASES)
def test_raw_control_chars_outside_json(raw: bytes, expected: str | None) -> None:
    err = check_text(raw, "f", 1, json=False)
    assert (None if err is None else str(err)) == expected


def test_escaped_nul_is_rejected_and_kept_without_the_check(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"instruction": "hi", "output": "ok"}\n{"instruction": "a\\u0000b", "output": "c"}\n'
    )
    with pytest.raises(SftforgeError) as exc, read(path) as reader:
        list(reader)
    assert str(exc.value) == f"{path}:2:19, field 'instruction': {MSG.format(0)} {FIX}"
    with read(path, check_text=False) as reader:
        assert [s.messages[0].content for s in reader] == ["hi", "a\x00b"]


def test_raw_control_byte_in_csv_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"instruction,output\nhi,ok\na\x01b,c\n")
    with read(path, on_error="skip") as reader:
        assert [s.messages[0].content for s in reader] == ["hi"]
    assert [str(e) for e in reader.errors] == [f"{path}:3:2: {MSG.format(1)} {FIX}"]


ALPACA = SHARED_DATA / "stanford_alpaca/alpaca_data.json"


@pytest.mark.skipif(not ALPACA.exists(), reason="shared data not present")
def test_real_alpaca_has_two_records_with_control_chars() -> None:
    with read(ALPACA, on_error="skip") as reader:
        n = sum(1 for _ in reader)
    assert (n, reader.stats.to_dict()) == (
        51972,
        {
            "read": 52002,
            "ok": 51972,
            "rejected": 30,
            "by_reason": {"format": 28, "control_chars": 2},
        },
    )
    assert [str(e) for e in reader.errors if "control" in e.message] == [
        f"{ALPACA}:149100:524, field 'output': {MSG.format(3)} {FIX}",
        f"{ALPACA}:191125:351, field 'output': {MSG.format(0x0B)} {FIX}",
    ]
    with read(ALPACA, on_error="skip", check_text=False) as unchecked:
        kept = [s.messages[-1].content for s in unchecked]
    assert (len(kept), sum(1 for t in kept if "\x03" in t or "\x0b" in t)) == (51974, 2)


@pytest.mark.parametrize("bad", [0, 5, 20, 39])
def test_json_array_batches_around_a_control_char(tmp_path: Path, bad: int) -> None:
    ctrl = "\\u0001"
    # pretty-printed like alpaca_data.json, so the reader batches elements between separators
    items = [
        f'    {{\n        "instruction": "q{i}",\n        "output": "a{i}{ctrl if i == bad else ""}"\n    }}'
        for i in range(40)
    ]
    path = tmp_path / "d.json"
    path.write_text("[\n" + ",\n".join(items) + "\n]\n", encoding="utf-8")
    with read(path, "alpaca", on_error="skip") as reader:
        got = [s.messages[0].content for s in reader]
    assert got == [f"q{i}" for i in range(40) if i != bad]
    line, column = 2 + 4 * bad + 2, 21 + len(str(bad))  # at the backslash after "a<bad>
    assert [str(e) for e in reader.errors] == [
        f"{path}:{line}:{column}, field 'output': {MSG.format(1)} {FIX}"
    ]


# -- finding suspects: the same answers however the search is done -------------------------------
_BITS = [b"a", b" ", b"\\", b"u", b"0", b"1", b"e", b"\\u0001", b"\\u00e9", b"\\\\u0001",
         b"\xc3", b"\xa9", b"\xc2\x80", b"\xef", b"\xbf\xbd", b"\x00", "é".encode(), "Ã©".encode()]  # fmt: skip


def _naive(data: bytes, pos: int) -> int:
    """The first suspect byte by brute force: every position tried in turn."""
    from sftforge.io import textcheck as tc

    for i in range(pos, len(data)):
        if data[i] == 0 or data.startswith(b"\xef\xbf\xbd", i) or tc._MOJIBAKE.match(data, i):
            return i
        if tc._CTRL_ESC.match(data, i) and tc._escaped(data, i):
            return i
    return -1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_BITS), max_size=120), st.lists(st.integers(0, 400), max_size=12))
def test_suspects_are_found_as_by_brute_force(bits: list[bytes], asks: list[int]) -> None:
    from sftforge.io.textcheck import Suspects, next_suspect

    data = b"".join(bits) * 3  # long runs of the same leads and escapes
    scanner = Suspects(data)
    for pos in [*sorted(min(a, len(data)) for a in asks), 0]:  # growing, then back to the start
        want = _naive(data, pos)
        assert next_suspect(data, pos) == want
        assert scanner.next(pos) == want
