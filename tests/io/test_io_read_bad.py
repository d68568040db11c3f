"""Every bad-input fixture: a clear error naming file, line (and column) and the fix; nothing lost."""

from __future__ import annotations

import pytest
from io_support import fixture

from sftforge import read
from sftforge.errors import InputError, SftforgeError

EMPTY = "{f}: the file is empty: there are no records to read. Fix: check that the right file was named and that it was written completely"

WHOLE_FILE = [
    ("empty.jsonl", EMPTY),
    ("blank.json", EMPTY),
    ("empty.jsonl.gz", EMPTY),
    (
        "not_json.dat",
        "{f}: cannot tell the container (not JSON, and the file name has no known extension). Fix: pass --container, one of: jsonl, json, object, csv, tsv, parquet, arrow, txt, xlsx",
    ),
]


@pytest.mark.parametrize(("name", "message"), WHOLE_FILE)
def test_whole_file_problems_raise_one_clear_error(name: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        read(fixture(name))
    assert str(info.value) == message.format(f=fixture(name))


RECORD = [
    # (file, read, ok, {kind: count}, the error text)
    (
        "truncated.json", 3, 2, {"truncated": 1},
        "{f}:10:3: the file ends inside an element: the JSON array is cut off. Fix: the file is truncated; re-download or re-create it (the elements before were read)",
    ),
    (
        "truncated.jsonl", 3, 2, {"truncated": 1},
        "{f}:3:47: the JSON value is cut off (unexpected end of data). Fix: the record is incomplete (a truncated file or a value split over lines); repair or remove it",
    ),
    (
        "truncated.jsonl.gz", 1339, 1338, {"truncated": 1},
        "{f}:1339: the gz data ends before its end marker: the file is truncated. Fix: re-download or re-create the file; records before the cut were read",
    ),
    (
        "trailing_comma.jsonl", 3, 2, {"trailing_comma": 1},
        "{f}:2:31: trailing comma before a closing bracket (not allowed in JSON). Fix: remove the comma after the last item",
    ),
    (
        "nul.jsonl", 3, 2, {"nul_bytes": 1},
        "{f}:2:30: the record contains NUL bytes (\\x00): this is binary data, UTF-16 text without a byte-order mark, or a damaged file. Fix: re-export the file as UTF-8 text, or pass --encoding utf-16 if it is UTF-16",
    ),
    (
        "malformed.jsonl", 3, 2, {"invalid_json": 1},
        "{f}:2:7: invalid JSON: unexpected character, expected a JSON value. Fix: fix the JSON at that position (e.g. a missing quote, comma or bracket)",
    ),
    (
        "mojibake.jsonl", 3, 2, {"mojibake": 1},
        "{f}:1:8: the record contains mojibake ('ä½\xa0å¥½'): UTF-8 text was decoded as Latin-1/cp1252 and saved again. Fix: re-export the source as UTF-8, repair it (e.g. ftfy.fix_text), or pass --no-check-text to keep the text as it is",
    ),
    (
        "invalid_utf8.jsonl", 3, 2, {"encoding": 1},
        "{f}:3:11: invalid UTF-8 byte 0xff: this part of the file is in another encoding. Fix: pass --encoding with the file's real encoding (e.g. gb18030, latin-1), or re-export it as UTF-8",
    ),
    (
        "missing_field.jsonl", 3, 2, {"format": 1},
        "{f}:2, field 'a': missing required field 'a'.",
    ),
    (
        "wrong_type.jsonl", 3, 2, {"format": 1},
        "{f}:2, field 'a': 'a' must be a string, not int.",
    ),
    (
        "empty_answer.jsonl", 3, 2, {"schema": 1},
        "{f}:2, sample s19c1d6932d15a485: there is no non-empty assistant answer. Fix: fix the record, or pass --on-error skip to leave it out",
    ),
    (
        "ragged.csv", 3, 2, {"invalid_csv": 1},
        "{f}:3: the row has 3 fields but the header has 2. Fix: quote fields that contain the delimiter, or fix the row",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "n_read", "n_ok", "reasons", "message"), RECORD)
def test_bad_record_is_skipped_with_file_and_line(
    name: str, n_read: int, n_ok: int, reasons: dict[str, int], message: str
) -> None:
    with read(fixture(name), "qa", on_error="skip") as reader:
        samples = list(reader)
    assert len(samples) == n_ok
    assert reader.stats.to_dict() == {
        "read": n_read,
        "ok": n_ok,
        "rejected": n_read - n_ok,
        "by_reason": reasons,
    }
    assert [str(e) for e in reader.errors] == [message.format(f=fixture(name))]


@pytest.mark.parametrize(("name", "n_read", "n_ok", "reasons", "message"), RECORD)
def test_bad_record_raises_by_default(
    name: str, n_read: int, n_ok: int, reasons: dict[str, int], message: str
) -> None:
    with pytest.raises(SftforgeError) as info, read(fixture(name), "qa") as reader:
        list(reader)
    assert str(info.value) == message.format(f=fixture(name))


def test_huge_single_line_is_a_clear_error(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "huge.jsonl"  # type: ignore[operator]
    path.write_bytes(b'{"q": "' + b"x" * (50 << 20) + b'", "a": "y"}\n{"q": "q", "a": "a"}\n')
    with read(path, "qa", on_error="skip") as reader:
        assert len(list(reader)) == 1
    assert [str(e) for e in reader.errors] == [
        f"{path}:1: the record is 50.0 MiB, more than the 32 MiB limit for one record. "
        "Fix: if the file is not really one record per line, pass the right --container; "
        "otherwise raise the limit with --max-record-mb (Python: max_record_bytes=)"
    ]


def test_a_trailing_comma_is_a_notice_not_a_record() -> None:
    """issue 16: ``read 2802 = written 2799 + rejected 3`` for a file of 2,801 records."""
    with read(fixture("trailing_comma.json"), "qa") as reader:  # the default policy: no raise
        samples = list(reader)
    assert len(samples) == 3
    assert (reader.stats.read, reader.stats.rejected) == (3, 0)
    assert [str(n) for n in reader.notices] == [
        f"{fixture('trailing_comma.json')}:15:1: trailing comma before the closing ']' (not "
        "allowed in JSON; not a record). Fix: remove the comma after the last element"
    ]
