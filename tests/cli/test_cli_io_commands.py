"""convert / inspect / validate: exit codes and the full text they print."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import orjson
import pytest
from io_support import fixture

from sftforge.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_convert(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    rc, stdout, stderr = run(capsys, "convert", fixture("good.json"), str(out), "--to", "sftforge")
    assert (rc, stdout) == (0, "")
    assert stderr == (
        f"{fixture('good.json')}: qa (confidence 1), json\nread 3 = written 3 + rejected 0\n"
    )
    assert [orjson.loads(x)["messages"][-1]["content"] for x in out.read_bytes().splitlines()] == [
        "Hello, world",
        "4",
        "Good morning",
    ]


@pytest.mark.parametrize("strict", [["--strict"], ["--on-error", "raise"]])
def test_convert_strict_stops_at_the_first_bad_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, strict: list[str]
) -> None:
    out = tmp_path / "o.json"
    rc, stdout, stderr = run(
        capsys, "convert", fixture("malformed.jsonl"), str(out), "--to", "qa", *strict
    )
    assert (rc, stdout) == (1, "")
    assert stderr == (
        f"{fixture('malformed.jsonl')}: qa (confidence 1), jsonl\n"
        f"error: {fixture('malformed.jsonl')}:2:7: invalid JSON: unexpected character, expected a "
        "JSON value. Fix: fix the JSON at that position (e.g. a missing quote, comma or bracket)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("policy", [[], ["--on-error", "skip"]])
def test_convert_writes_rejects_next_to_the_output_by_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, policy: list[str]
) -> None:
    """issue 16: a bad record never stops a file by default; it goes to OUT.rejects.jsonl with
    file, line, reason and raw text, and the summary says so loudly."""
    out = tmp_path / "o.json"
    src = fixture("malformed.jsonl")
    rc, _, stderr = run(capsys, "convert", src, str(out), "--to", "qa", *policy)
    assert rc == 0
    first = (
        f"{src}:2:7: invalid JSON: unexpected character, expected a JSON value. Fix: fix the "
        "JSON at that position (e.g. a missing quote, comma or bracket)"
    )
    assert stderr == (
        f"{src}: qa (confidence 1), jsonl\n"
        "read 3 = written 2 + rejected 1\n"
        "warning: 1 of 3 records rejected (invalid_json 1); each with file, line, reason and raw "
        f"text in {out}.rejects.jsonl\n"
        f"  first: {first}\n"
        f"rejects: {out}.rejects.jsonl\n"
    )
    rejects = [orjson.loads(x) for x in Path(f"{out}.rejects.jsonl").read_bytes().splitlines()]
    assert [(r["file"], r["line"], r["kind"], r["raw"], r["error"]) for r in rejects] == [
        (src, 2, "invalid_json", '{"q": What is 2+2?", "a": "4"}', first)
    ]
    assert rejects[0]["reason"].startswith("invalid JSON")
    assert len(orjson.loads(out.read_bytes())) == 2


def test_convert_stdin_to_stdout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b'{"q": "\xe4\xbd\xa0\xe5\xa5\xbd", "a": "hi"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc, stdout, stderr = run(capsys, "convert", "-", "-", "--to", "qa")
    assert (rc, stdout) == (0, '{"q":"你好","a":"hi"}\n')
    assert stderr == "<stdin>: qa (confidence 1), jsonl\nread 1 = written 1 + rejected 0\n"


MULTI = b'{"id": "m1", "messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "3"}, {"role": "assistant", "content": "4"}]}\n'


def test_convert_refuses_a_lossy_conversion(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "multi.jsonl"
    src.write_bytes(MULTI)
    rc, _, stderr = run(capsys, "convert", str(src), str(tmp_path / "o.jsonl"), "--to", "qa")
    assert rc == 1
    first, second = stderr.splitlines()
    assert first == f"{src}: sftforge (confidence 0.95), jsonl"
    assert second.startswith("error: sample m1: format 'qa' cannot carry multi_turn")
    assert second.endswith(
        "Fix: choose a format that can carry it, or pass --allow-lossy to drop it and count the losses"
    )
    assert not (tmp_path / "o.jsonl").exists()


def test_convert_allow_lossy_counts_the_losses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "multi.jsonl"
    src.write_bytes(MULTI * 2)
    out = tmp_path / "o.jsonl"
    rc, _, stderr = run(capsys, "convert", str(src), str(out), "--to", "qa", "--allow-lossy")
    assert rc == 0
    assert stderr == (
        f"{src}: sftforge (confidence 0.95), jsonl\n"
        "read 2 = written 2 + rejected 0\n"
        "lost (--allow-lossy): multi_turn 2\n"
    )
    assert out.read_bytes() == b'{"q":"3","a":"4"}\n' * 2


@pytest.mark.parametrize(
    ("argv", "rc", "stderr"),
    [
        (
            ["--on-error", "maybe"],
            1,
            "error: unknown --on-error 'maybe'. Fix: use raise or skip\n",
        ),
        (
            ["--from", "nope"],
            1,
            None,  # checked below: lists the valid formats
        ),
    ],
)
def test_convert_bad_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], rc: int, stderr: str | None
) -> None:
    got_rc, _, got_err = run(
        capsys, "convert", fixture("good.jsonl"), str(tmp_path / "o.jsonl"), "--to", "qa", *argv
    )
    assert got_rc == rc
    if stderr is not None:
        assert got_err == stderr
    else:
        assert got_err.startswith("error: unknown format 'nope'. Fix: use one of: ")


def test_inspect_text(capsys: pytest.CaptureFixture[str]) -> None:
    rc, stdout, _ = run(capsys, "inspect", fixture("good.jsonl"), "--examples", "1")
    assert rc == 0
    assert stdout == (
        f"file:       {fixture('good.jsonl')}\n"
        "format:     qa (confidence 1)\n"
        "container:  jsonl, encoding utf-8, compression none\n"
        "records:    3 read, 3 valid, 0 invalid\n"
        "roles:      assistant: 3, system: 1, user: 3\n"
        "user turns: 1: 3\n"
        "empty:      -\n"
        "features:   system: 1\n"
        "length (characters) per role:\n"
        "  assistant  1-15: 3\n"
        "  system     1-15: 1\n"
        "  user       1-15: 3\n"
        "languages:  zh: 2, en: 1 (prompts of the first 3)\n"
        "problems:   none found\n"
        "examples:\n"
        '  {"id":"sad5c652ecd309b84","messages":[{"role":"user","content":"你好，世界"},{"role":"assistant","content":"Hello, world"}]}\n'
    )


def test_inspect_json_lists_invalid_records(capsys: pytest.CaptureFixture[str]) -> None:
    rc, stdout, _ = run(capsys, "inspect", fixture("empty_answer.jsonl"), "--json")
    rep = orjson.loads(stdout)
    assert rc == 0
    assert {k: rep[k] for k in ("format", "read", "ok", "rejected", "by_reason", "roles")} == {
        "format": "qa",
        "read": 3,
        "ok": 2,
        "rejected": 1,
        "by_reason": {"schema": 1},
        "roles": {"assistant": 2, "system": 1, "user": 2},
    }
    assert rep["errors"] == [
        f"{fixture('empty_answer.jsonl')}:2, sample s19c1d6932d15a485: there is no non-empty "
        "assistant answer. Fix: fix the record, or pass --on-error skip to leave it out"
    ]


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate", fixture("good.csv")) == (
        0,
        "",
        f"{fixture('good.csv')}: qa, 3 records, 3 valid, ok\n",
    )


def test_validate_lists_problems_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    f = fixture("trailing_comma.json")
    assert run(capsys, "validate", f) == (
        1,
        f"{f}:15:1: trailing comma before the closing ']' (not allowed in JSON; not a record). "
        "Fix: remove the comma after the last element\n",
        f"{f}: qa, 3 records, 3 valid, ok, 1 problem outside the records\n",
    )


def test_validate_empty_file(capsys: pytest.CaptureFixture[str]) -> None:
    f = fixture("empty.jsonl")
    assert run(capsys, "validate", f) == (
        1,
        "",
        f"error: {f}: the file is empty: there are no records to read. "
        "Fix: check that the right file was named and that it was written completely\n",
    )
