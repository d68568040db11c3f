"""convert / validate / inspect: format detection over unreadable records, --max-record-mb, and
control characters in string content. Full stderr text and exit codes are pinned."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sftforge.cli.main import main

CTRL_FIX = "Fix: remove the control characters, or run the remove_control_chars operator / pass --no-check-text"
TOO_LARGE_FIX = (
    "Fix: if the file is not really one record per line, pass the right --container; "
    "otherwise raise the limit with --max-record-mb (Python: max_record_bytes=)"
)
NO_DETECT = "cannot detect the format: no record could be read. First problem:"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _big_line(path: Path, mib: int) -> Path:
    record = {"instruction": "x" * (mib * 2**20), "output": "y"}
    path.write_bytes(orjson.dumps(record) + b"\n")
    return path


# (file content, extra CLI args, expected error line after "error: {path}")
UNREADABLE = [
    (
        b'{"instruction": "a", "output": "b",}\n',
        (),
        f":1:35: {NO_DETECT} trailing comma before a closing bracket (not allowed in JSON). "
        "Fix: remove the comma after the last item",
    ),
    (
        '{"instruction": "cafÃ©", "output": "b"}\n'.encode(),
        (),
        f":1:21: {NO_DETECT} the record contains mojibake ('Ã©\", \"outp'): UTF-8 text was decoded "
        "as Latin-1/cp1252 and saved again. Fix: re-export the source as UTF-8, repair it "
        "(e.g. ftfy.fix_text), or pass --no-check-text to keep the text as it is",
    ),
    (
        b'{"instruction": "a\\u0000", "output": "b"}\n',
        (),
        f":1:19, field 'instruction': {NO_DETECT} the text contains the control character U+0000: "
        f"tokenizers and editors treat it as binary data. {CTRL_FIX}",
    ),
    (
        b'{"instruction": "a", "output": "b"\n{"instruction": "c", "output": ]\n',
        (),
        f":1:35: {NO_DETECT} the JSON value is cut off (unexpected end of data). Fix: the record "
        "is incomplete (a truncated file or a value split over lines); repair or remove it",
    ),
]


@pytest.mark.parametrize(("content", "args", "expected"), UNREADABLE)
@pytest.mark.parametrize("command", ["convert", "validate"])
def test_detection_reports_the_first_record_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
    content: bytes,
    args: tuple[str, ...],
    expected: str,
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    argv = [command, str(src), *args]
    if command == "convert":
        argv += [str(tmp_path / "out.jsonl"), "--to", "sharegpt"]
    assert run(capsys, *argv) == (1, "", f"error: {src}{expected}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("command", ["convert", "validate", "inspect"])
def test_detection_reports_a_record_over_the_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    src = _big_line(tmp_path / "big.jsonl", 3)
    argv = [command, str(src), "--max-record-mb", "1"]
    if command == "convert":
        argv += [str(tmp_path / "out.jsonl"), "--to", "sharegpt"]
    assert run(capsys, *argv) == (
        1,
        "",
        f"error: {src}:1: {NO_DETECT} the record is 3.0 MiB, more than the 1 MiB limit for one "
        f"record. {TOO_LARGE_FIX}\n",
    )


def test_an_empty_file_is_still_called_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_bytes(b"")
    assert run(capsys, "validate", str(src)) == (
        1,
        "",
        f"error: {src}: the file is empty: there are no records to read. Fix: check that the "
        "right file was named and that it was written completely\n",
    )


def test_one_readable_record_is_enough_to_detect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"instruction": "a", "output": "b",}\n{"instruction": "c", "output": "d"}\n')
    assert run(capsys, "validate", str(src)) == (
        1,
        f"{src}:1:35: trailing comma before a closing bracket (not allowed in JSON). "
        "Fix: remove the comma after the last item\n",
        f"{src}: alpaca, 2 records, 1 valid, 1 invalid\n",
    )


def test_max_record_mb_lets_a_big_record_through(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _big_line(tmp_path / "big.jsonl", 3)
    out = tmp_path / "out.jsonl"
    args = ["convert", str(src), str(out), "--to", "sharegpt", "--from", "alpaca"]
    assert run(capsys, *args, "--max-record-mb", "1", "--strict") == (
        1,
        "",
        f"{src}: alpaca (confidence 1), jsonl\nerror: {src}:1: the record is 3.0 MiB, more than "
        f"the 1 MiB limit for one record. {TOO_LARGE_FIX}\n",
    )
    assert not out.exists()
    assert run(capsys, *args, "--max-record-mb", "8") == (
        0,
        "",
        f"{src}: alpaca (confidence 1), jsonl\nread 1 = written 1 + rejected 0\n",
    )
    conv = orjson.loads(out.read_bytes())["conversations"]
    assert [len(t["value"]) for t in conv] == [3 * 2**20, 1]
    assert run(capsys, "validate", str(src), "--max-record-mb", "8") == (
        0,
        "",
        f"{src}: alpaca, 1 records, 1 valid, ok\n",
    )
    rc, stdout, _ = run(capsys, "inspect", str(src), "--max-record-mb", "8", "--json")
    assert (rc, orjson.loads(stdout)["read"]) == (0, 1)


def test_max_record_mb_must_be_positive(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = _big_line(tmp_path / "big.jsonl", 0)
    rc, stdout, stderr = run(capsys, "validate", str(src), "--max-record-mb", "0")
    assert (rc, stdout) == (2, "")
    assert stderr.splitlines()[-1] == (
        "Error: Invalid value for '--max-record-mb': Input should be greater than or equal to 1"
    )


def test_escaped_nul_is_rejected_unless_no_check_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"instruction": "hi", "output": "ok"}\n{"instruction": "a", "output": "b\\u0000"}\n'
    )
    out = tmp_path / "out.jsonl"
    args = ["convert", str(src), str(out), "--to", "sharegpt"]
    assert run(capsys, *args, "--strict") == (
        1,
        "",
        f"{src}: alpaca (confidence 0.9), jsonl\nerror: {src}:2:34, field 'output': the text "
        f"contains the control character U+0000: tokenizers and editors treat it as binary data. "
        f"{CTRL_FIX}\n",
    )
    assert not out.exists()
    assert run(capsys, *args, "--no-check-text") == (
        0,
        "",
        f"{src}: alpaca (confidence 0.9), jsonl\nread 2 = written 2 + rejected 0\n",
    )
    values = [orjson.loads(x)["conversations"][1]["value"] for x in out.read_bytes().splitlines()]
    assert values == ["ok", "b\x00"]
