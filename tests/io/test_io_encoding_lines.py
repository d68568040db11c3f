"""Encoding detection never re-decodes valid UTF-8 as another codec because of a few bad lines
(issue 17): those lines are rejected one by one, saying what they look like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftforge import read
from sftforge.io.encoding import detect_encoding, guess_line_encoding


def _lines(n: int, text: str = "q{i}") -> list[bytes]:
    return [
        json.dumps({"q": text.format(i=i), "a": "answer"}, ensure_ascii=False).encode()
        for i in range(n)
    ]


CP1252_LINE = json.dumps({"q": "señor, São Paulo", "a": "x"}, ensure_ascii=False).encode("cp1252")
STRAY_LINE = b'{"q": "q\xff\xfe", "a": "x"}'


def _file(tmp_path: Path, body: list[bytes]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    return path


@pytest.mark.parametrize(
    ("bad", "text"),
    [(CP1252_LINE, "q{i}"), (CP1252_LINE, "q{i} 你好"), (STRAY_LINE, "q{i}")],
    ids=["cp1252-in-ascii", "cp1252-in-cjk", "stray-fffe"],
)
def test_one_bad_line_keeps_the_file_utf8(tmp_path: Path, bad: bytes, text: str) -> None:
    good = _lines(30, text)
    path = _file(tmp_path, [*good[:10], bad, *good[10:]])
    assert detect_encoding(path.read_bytes()) == ("utf-8", 0)
    with read(path, "qa", on_error="skip") as reader:
        samples = list(reader)
    assert reader.source.encoding == "utf-8"
    # every good line exactly as written (a gb18030 or cp1252 re-decode would garble them)
    assert [s.messages[0].content for s in samples] == [text.format(i=i) for i in range(30)]
    assert reader.stats.to_dict()["by_reason"] == {"encoding": 1}
    [err] = reader.errors
    assert err.line == 11 and err.kind == "encoding"


def test_the_bad_line_error_says_what_it_looks_like(tmp_path: Path) -> None:
    good = _lines(30)
    path = _file(tmp_path, [*good[:10], CP1252_LINE, *good[10:]])
    with read(path, "qa", on_error="skip") as reader:
        list(reader)
    [err] = reader.errors
    message = str(err)
    assert message.startswith(f"{path}:11:")
    assert "As cp1252 it reads" in message and "señor, São Paulo" in message
    assert "mixed encodings" in message and "--encoding cp1252" in message


def test_validate_reports_the_mixed_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sftforge.cli.main import main

    good = [json.dumps({"instruction": f"q{i}", "output": "answer"}).encode() for i in range(30)]
    bad = json.dumps({"instruction": "señor", "output": "x"}, ensure_ascii=False).encode("cp1252")
    path = _file(tmp_path, [*good[:10], bad, *good[10:]])
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"{path}:11:" in text and "cp1252" in text and "30 valid, 1 invalid" in text


def test_files_in_another_encoding_are_still_detected(tmp_path: Path) -> None:
    zh = "\n".join(f'{{"q": "第{i}个问题：今天天气怎么样", "a": "很好"}}' for i in range(20))
    assert detect_encoding(zh.encode("gbk")) == ("gb18030", 0)
    latin = "\n".join(f'{{"q": "número {i} é", "a": "café"}}' for i in range(20))
    enc, _ = detect_encoding(latin.encode("cp1252"))
    assert enc != "utf-8"
    path = tmp_path / "latin.jsonl"
    path.write_bytes(latin.encode("cp1252"))
    with read(path, "qa") as reader:
        # (cp1252 and cp1250 differ only in a few letters; whole-file guessing cannot tell them)
        assert {s.messages[1].content for s in reader} == {"café"}
    assert reader.stats.rejected == 0


def test_a_head_cut_inside_a_character_is_not_a_bad_line() -> None:
    head = ("你好\n" * 10).encode() + "世".encode()[:2]
    assert detect_encoding(head) == ("utf-8", 0)


def test_guess_line_encoding() -> None:
    assert guess_line_encoding('{"q": "你好世界，早上好"}'.encode("gbk")) == (
        "gb18030",
        '{"q": "你好世界，早上好"}',
    )
    assert guess_line_encoding("Größe café".encode("cp1252")) == ("cp1252", "Größe café")
    # cp1252 accents read as GB18030 give lone ideographs inside Latin words: not Chinese
    assert guess_line_encoding("señor, São Paulo".encode("cp1252"))[0] == "cp1252"  # type: ignore[index]


def test_validate_sums_up_mixed_encodings_and_mojibake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sftforge.cli.main import main

    rows = [json.dumps({"instruction": f"q{i}", "output": "answer"}).encode() for i in range(30)]
    bad = json.dumps({"instruction": "señor", "output": "x"}, ensure_ascii=False).encode("cp1252")
    rows[10] = rows[14] = bad
    rows[20] = json.dumps(
        {"instruction": "CafÃ© crÃ¨me", "output": "x"}, ensure_ascii=False
    ).encode()
    path = _file(tmp_path, rows)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        "mixed encodings: the file reads as UTF-8, but 2 record(s) are in another encoding "
        "(lines 11, 15)"
    ) in out
    assert "mojibake: 1 record(s) hold UTF-8 text that was decoded as Latin-1/cp1252" in out
    assert "(lines 21)" in out
