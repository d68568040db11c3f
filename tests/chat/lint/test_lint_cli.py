from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sftforge.cli.main import main
from sftforge.sample import Message, Sample


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture()
def tok_dir(tmp_path: Path, tok: Any, chatml_gen: str) -> Path:
    from copy import deepcopy

    own = deepcopy(tok)
    own.chat_template = chatml_gen
    own.save_pretrained(tmp_path / "tok")
    return tmp_path / "tok"


def test_clean_file_exits_zero(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = Sample([Message("user", "你好"), Message("assistant", "Hello")])
    f = write_jsonl(tmp_path / "ok.jsonl", [s.to_dict()])
    assert main(["lint", str(f), "--tokenizer", str(tok_dir), "--max-len", "64"]) == 0
    out = capsys.readouterr().out
    assert "1 rows, 0 errors" in out and "token lengths" in out


def test_injection_is_an_error_with_json_report(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "x <|im_end|> y"},
                {"role": "assistant", "content": "z"},
            ]
        }
    ]
    f = write_jsonl(tmp_path / "bad.jsonl", rows)
    assert main(["lint", str(f), "--tokenizer", str(tok_dir), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["special-token"] == 1 and report["errors"] >= 1


def test_other_formats_are_detected(tmp_path: Path, tok_dir: Path) -> None:
    rows = [{"instruction": "Say hi", "input": "", "output": "hi"}]
    f = write_jsonl(tmp_path / "alpaca.jsonl", rows)
    assert main(["lint", str(f), "--tokenizer", str(tok_dir)]) == 0


def test_tokenized_parquet(
    tmp_path: Path, tok_dir: Path, tok: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    eos = tok.eos_token_id
    table = pa.Table.from_pylist([{"input_ids": [5, 6, eos], "labels": [-100, -100, -100]}])
    pq.write_table(table, tmp_path / "t.parquet")
    assert main(["lint", str(tmp_path / "t.parquet"), "--tokenizer", str(tok_dir)]) == 1
    assert "fully-masked: 1" in capsys.readouterr().out


def test_missing_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(tmp_path / "nope.jsonl")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: {tmp_path / 'nope.jsonl'}: no such file: '{tmp_path / 'nope.jsonl'}'"
    )


@pytest.mark.parametrize(("template", "errors"), [("chatml", 0), ("qwen3", 0), ("default", 0)])
def test_native_catalogue_templates(
    tmp_path: Path, tok_dir: Path, template: str, errors: int, capsys: pytest.CaptureFixture[str]
) -> None:
    s = Sample([Message("system", "S"), Message("user", "你好"), Message("assistant", "Hello")])
    f = write_jsonl(tmp_path / "ok.jsonl", [s.to_dict()])
    rc = main(["lint", str(f), "--tokenizer", str(tok_dir), "--template", template, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (rc, report["errors"]) == (int(errors > 0), errors)


def test_unknown_template_lists_names(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write_jsonl(
        tmp_path / "ok.jsonl", [Sample([Message("user", "a"), Message("assistant", "b")]).to_dict()]
    )
    assert main(["lint", str(f), "--tokenizer", str(tok_dir), "--template", "nope"]) == 1
    assert "unknown chat template 'nope'" in capsys.readouterr().err


def test_bad_role_order_is_reported_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"},
            ]
        }
    ]
    f = write_jsonl(tmp_path / "order.jsonl", rows)
    assert main(["lint", str(f), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"] == {"role-order": 1}


def test_invalid_tool_call_json_is_a_finding_and_other_rows_are_checked(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{bad json"}}
    rows = [
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "content": "1"},
                {"role": "assistant", "content": "ok"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "x <|im_end|> y"},
                {"role": "assistant", "content": "z"},
            ]
        },
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
    ]
    f = write_jsonl(tmp_path / "calls.jsonl", rows)
    assert main(["lint", str(f), "--tokenizer", str(tok_dir), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 3
    assert report["counts"] == {"tool-call-json": 1, "special-token": 1}
    by_check = {x["check"]: x for x in report["findings"]}
    assert by_check["tool-call-json"]["row"] == 0
    assert by_check["tool-call-json"]["message"] == (
        "'messages[1].tool_calls[0].function.arguments' must be a JSON object of arguments, "
        "not '{bad json'."
    )
    assert by_check["special-token"]["row"] == 1


def test_a_record_that_is_no_conversation_is_reported_as_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "b"}]},
    ]
    f = write_jsonl(tmp_path / "types.jsonl", rows)
    assert main(["lint", str(f), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"unreadable": 1}
    assert [x["row"] for x in report["findings"]] == [1]
    assert "must be a string" in report["findings"][0]["message"]
