"""generate/io.py reads through the one reader (sftforge.read, the proposed column mapping for
lists of prompts) and writes through sftforge.io's JSONL writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftforge.errors import FormatError
from sftforge.generate.io import read_jsonl, read_samples, write_jsonl


def _turns(path: Path, **kw: object) -> list[list[tuple[str, str]]]:
    return [[(m.role, m.content) for m in s.messages] for s in read_samples(path, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "want"),
    [
        ([{"question": "Why?"}], [[("user", "Why?")]]),
        ([{"prompt": "P", "system": "S"}], [[("system", "S"), ("user", "P")]]),
        ([{"instruction": "Do", "input": "this"}], [[("user", "Do\nthis")]]),
        ([{"问题": "为什么？", "答案": "因为"}], [[("user", "为什么？"), ("assistant", "因为")]]),
        (
            [{"messages": [{"role": "user", "content": "hi"}]}],
            [[("user", "hi")]],
        ),
    ],
)
def test_prompt_lists_need_no_conversion(
    tmp_path: Path, rows: list[dict[str, object]], want: list[list[tuple[str, str]]]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    assert _turns(path) == want


def test_a_csv_of_questions_and_an_explicit_mapping(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes("提问,备注\r\n怎么退货？,x\r\n".encode("gbk"))
    assert _turns(path) == [[("user", "怎么退货？")]]
    (s,) = read_samples(path, columns={"备注": "prompt"})
    assert (s.messages[0].content, s.meta) == ("x", {"fields": {"提问": "怎么退货？"}})


def test_id_and_meta_of_a_prompt_row_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a1", "prompt": "P", "meta": {"k": 1}}) + "\n", "utf-8")
    (s,) = read_samples(path)
    assert (s.id, s.meta) == ("a1", {"k": 1})


def test_read_jsonl_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n[1]\n', encoding="utf-8")
    with pytest.raises(FormatError) as info:
        list(read_jsonl(path))
    assert (info.value.file, info.value.line) == (str(path), 2)


def test_write_jsonl_is_the_io_writer(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "o.jsonl"
    assert write_jsonl(path, [{"问": "答"}, {"n": 1}]) == 2
    assert path.read_text(encoding="utf-8") == '{"问":"答"}\n{"n":1}\n'
    assert [p.name for p in path.parent.iterdir()] == ["o.jsonl"]  # no temporary left behind
