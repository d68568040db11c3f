"""One clear line instead of a wrong message (issue 17): a number too large for JSON readers,
a truncated single-block bz2, a content part that is not text, an unknown role, a file name
with a line break."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import pytest

from sftforge import read
from sftforge.errors import FormatError, InputError, SftforgeError, one_line


def test_a_huge_integer_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = "1" * 5000
    path.write_text(f'{{"q": "x", "a": "y", "n": {big}}}\n{{"q": "x2", "a": "y2"}}\n')
    with read(path, "qa", on_error="skip") as reader:
        assert len(list(reader)) == 1
    [err] = reader.errors
    assert str(err) == (
        f"{path}:1:27: the number here has 5000 characters and is beyond the range of a JSON "
        "number as readers hold it (a 64-bit float, at most about 1.8e308). Fix: write it as a "
        "string (in quotes) if it must be kept exactly"
    )
    assert "missing quote" not in str(err)


def test_a_truncated_single_block_bz2_says_nothing_was_read(tmp_path: Path) -> None:
    data = "".join(json.dumps({"q": f"q{i}", "a": "a"}) + "\n" for i in range(50)).encode()
    packed = bz2.compress(data)
    path = tmp_path / "cut.jsonl.bz2"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError) as info:
        read(path, "qa")
    message = str(info.value)
    assert "records before the cut were read" not in message
    assert message == (
        f"{path}: the bz2 data ends before its end marker: the file is truncated. Fix: "
        "re-download or re-create the file; no record was read: nothing before the cut could "
        "be decompressed"
    )


def test_a_content_part_that_is_not_text_names_its_type_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "oa.jsonl"
    part = {"type": "input_audio", "input_audio": {"data": "..."}}
    rows = [
        {"messages": [{"role": "user", "content": [part]}, {"role": "assistant", "content": "a"}]}
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(FormatError) as info, read(path, "openai") as reader:
        list(reader)
    message = str(info.value)
    assert message.startswith(f"{path}:1, field 'messages[0].content': ")
    assert "content part of type 'input_audio' that is not text" in message
    assert "Fix: keep only text parts" in message


def test_an_unknown_role_is_named_instead_of_guessing_swift(tmp_path: Path) -> None:
    path = tmp_path / "roles.jsonl"
    row = {"messages": [{"role": "human2", "content": "q"}, {"role": "bot", "content": "a"}]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SftforgeError) as info:
        read(path)
    message = str(info.value)
    assert "swift" not in message
    assert "unknown role 'human2' in 'messages[0].role'" in message
    assert "Fix: use the roles system, user, assistant, tool" in message


def test_a_file_name_with_a_line_break_stays_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a\nb.jsonl"
    path.write_text('{"q": "x", "a": "y"}\n{"q": broken\n', encoding="utf-8")
    with pytest.raises(SftforgeError) as info, read(path, "qa") as reader:
        list(reader)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path) + "/a\\nb.jsonl:2:")


def test_one_line_escapes_control_characters_only() -> None:
    assert one_line("中文 tab\tok") == "中文 tab\tok"
    assert one_line("a\nb\r\x1b[31mc\u2028") == "a\\nb\\r\\x1b[31mc\\u2028"


def _alpaca_rows(n: int) -> list[str]:
    return [json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) for i in range(n)]


@pytest.mark.parametrize("where", [0, 7, 39])
@pytest.mark.parametrize("container", ["jsonl", "json-pretty", "json-compact"])
def test_duplicate_keys_are_rejected_per_record(tmp_path: Path, where: int, container: str) -> None:
    rows = _alpaca_rows(40)
    rows[where] = '{"instruction": "dup", "output": "first", "output": "second"}'
    if container == "jsonl":
        path = tmp_path / "d.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        line = where + 1
    elif container == "json-pretty":
        path = tmp_path / "d.json"
        path.write_text("[\n  " + ",\n  ".join(rows) + "\n]\n", encoding="utf-8")
        line = where + 2
    else:
        path = tmp_path / "d.json"
        path.write_text("[" + ",".join(rows) + "]", encoding="utf-8")
        line = 1
    with read(path, "alpaca", on_error="skip") as reader:
        got = [s.messages[0].content for s in reader]
    assert got == [f"q{i}" for i in range(40) if i != where]
    [err] = reader.errors
    assert (err.kind, err.line, err.field) == ("duplicate_keys", line, "output")  # type: ignore[attr-defined]
    assert "the key 'output' appears twice in one object" in str(err)


def test_convert_with_workers_rejects_duplicate_keys_too(tmp_path: Path) -> None:
    from sftforge.convert import convert

    rows = _alpaca_rows(3000)
    rows[2500] = '{"instruction": "dup", "instruction": "again", "output": "x"}'
    src = tmp_path / "d.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    res = convert(src, tmp_path / "o.jsonl", "sharegpt", on_error="skip", workers=2)
    assert (res.read, res.written, res.rejected) == (3000, 2999, 1)
    assert res.by_reason == {"duplicate_keys": 1}


def test_escaped_quotes_and_spaced_colons_are_not_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    rows = [
        '{"instruction": "say \\":\\" twice \\": \\":", "output": "a"}',
        '{"instruction" : "spaced", "output" :"b", "meta": {"k": {"k": 1}}}',
        '{"instruction": "nested", "output": "c", "x": [{"a": 1}, {"a": 2}]}',
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with read(path, "alpaca", on_error="skip") as reader:
        assert len(list(reader)) == 3
    assert reader.errors == []


@pytest.mark.parametrize("container", ["jsonl", "json"])
def test_duplicate_keys_written_with_a_space_before_the_colon_are_found(
    tmp_path: Path, container: str
) -> None:
    rows = [*_alpaca_rows(5), '{"instruction" : "dup", "output" : "first", "output" : "second"}']
    rows.append('{"instruction": "a colon as an escape \\u003a is no key", "output": "\\u003a"}')
    path = tmp_path / f"d.{container}"
    text = "\n".join(rows) if container == "jsonl" else "[\n" + ",\n".join(rows) + "\n]"
    path.write_text(text + "\n", encoding="utf-8")
    with read(path, "alpaca", on_error="skip") as reader:
        got = [s.messages[0].content for s in reader]
    assert got == [*(f"q{i}" for i in range(5)), "a colon as an escape : is no key"]
    [err] = reader.errors
    assert (err.kind, err.field) == ("duplicate_keys", "output")  # type: ignore[attr-defined]


@pytest.mark.parametrize("workers", [0, "two", -3])
def test_convert_refuses_a_bad_workers_value(tmp_path: Path, workers: object) -> None:
    from sftforge.convert import convert

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"q": "x", "a": "y"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="workers must be an integer >= 1"):
        convert(src, tmp_path / "o.jsonl", "qa", workers=workers)  # type: ignore[arg-type]
    assert not (tmp_path / "o.jsonl").exists()
