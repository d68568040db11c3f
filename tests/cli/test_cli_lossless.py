"""issue 16 through the CLI: files round-trip with their extra fields, lossy conversions need
--allow-lossy, bad records go to the rejects file, and an input that keeps nothing fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sftforge.cli.main import main
from sftforge.convert import convert

ALPACA = [
    {
        "instruction": "介绍一下长城",
        "input": "",
        "output": "长城是中国古代的军事防御工程。",
        "category": "常识",
        "task_type": {"major": ["问答"], "minor": ["历史"]},
        "domain": ["历史"],
        "answer_from": "human",
        "human_verified": True,
        "copyright": "CC BY-NC 4.0",
    },
    {"instruction": "Add", "input": "2 and 2", "output": "4", "category": "math", "score": None},
    {"instruction": "plain", "input": "", "output": "no extra fields here"},
]
SHAREGPT = [
    {
        "id": "c1",
        "conversations": [
            {"from": "human", "value": "你好", "weight": 0},
            {"from": "gpt", "value": "你好！", "weight": 1},
            {"from": "human", "value": "讲个笑话", "weight": 0},
            {"from": "gpt", "value": "……", "weight": 1, "rating": {"好笑": False}},
        ],
        "source": "sharegpt-zh",
    },
    {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    return rc, capsys.readouterr().err


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _rows(path: Path) -> list[Any]:
    data = path.read_bytes()
    if data.lstrip().startswith(b"["):
        return list(orjson.loads(data))
    return [orjson.loads(x) for x in data.splitlines() if x.strip()]


def test_alpaca_to_alpaca_is_equal_field_for_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(ALPACA))
    out = tmp_path / "out.json"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "alpaca")
    assert rc == 0, err
    assert _rows(out) == ALPACA


def test_sharegpt_to_sharegpt_is_equal_field_for_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _jsonl(tmp_path / "in.jsonl", SHAREGPT)
    out = tmp_path / "out.jsonl"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "sharegpt")
    assert rc == 0, err
    assert _rows(out) == SHAREGPT


@pytest.mark.parametrize("workers", [1, 2])
def test_the_parallel_path_keeps_fields_too(tmp_path: Path, workers: int) -> None:
    src = _jsonl(tmp_path / "in.jsonl", SHAREGPT * 50)
    out = tmp_path / f"out{workers}.jsonl"
    convert(src, out, "sharegpt", workers=workers)
    assert _rows(out) == SHAREGPT * 50


def test_a_lossy_target_needs_allow_lossy_and_counts_the_loss(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(ALPACA))
    out = tmp_path / "out.json"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "litgpt")
    assert rc == 1
    assert "cannot carry extra fields" in err and "--allow-lossy" in err
    assert not out.exists()
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "litgpt", "--allow-lossy")
    assert rc == 0
    assert "lost (--allow-lossy): extra fields 2\n" in err
    assert _rows(out)[0] == {
        "instruction": ALPACA[0]["instruction"],
        "input": "",
        "output": ALPACA[0]["output"],
    }


def test_turn_fields_into_alpaca_are_a_named_loss(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = _jsonl(tmp_path / "in.jsonl", SHAREGPT)
    out = tmp_path / "out.json"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "alpaca", "--allow-lossy")
    assert rc == 0
    assert "lost (--allow-lossy): extra turn fields 1\n" in err
    assert _rows(out)[0]["source"] == "sharegpt-zh"


def test_a_file_that_keeps_nothing_exits_1_and_names_the_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 16 problem 2: every record rejected must not be `[]` and exit 0."""
    src = tmp_path / "faq.jsonl"
    _jsonl(src, [{"问题": f"q{i}", "答案": f"a{i}"} for i in range(5)])
    out = tmp_path / "out.json"
    rc, err = run(capsys, "convert", str(src), str(out), "--from", "alpaca", "--to", "sharegpt")
    assert rc == 1
    assert "read 5 = written 0 + rejected 5\n" in err
    line = err.splitlines()[-1]
    assert line.startswith(f"error: none of the 5 records of {src} could be used (format 5)")
    assert "Fix: the records are not in the 'alpaca' format: pass --from" in line
    assert "--columns" in line and f"{out}.rejects.jsonl" in line
    assert not out.exists()  # no empty output to hand on
    rejects = _rows(Path(f"{out}.rejects.jsonl"))
    assert [(r["file"], r["line"], r["kind"]) for r in rejects] == [
        (str(src), i, "format") for i in range(1, 6)
    ]
    assert orjson.loads(rejects[0]["raw"]) == {"问题": "q0", "答案": "a0"}


def test_a_trailing_comma_is_reported_but_not_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 16 problem 6: a file of 3 records with a trailing comma reads 3, not 4."""
    src = tmp_path / "in.json"
    body = b",\n".join(orjson.dumps(r) for r in ALPACA)
    src.write_bytes(b"[\n" + body + b",\n]\n")
    out = tmp_path / "out.jsonl"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "sharegpt")
    assert rc == 0
    assert err.splitlines()[1:] == [
        f"warning: {src}:5:1: trailing comma before the closing ']' (not allowed in JSON; not a "
        "record). Fix: remove the comma after the last element",
        "read 3 = written 3 + rejected 0",
    ]
    assert not Path(f"{out}.rejects.jsonl").exists()


def test_an_empty_user_turn_that_is_answered_does_not_stop_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 16 problem 6: one empty user turn stopped `convert` at that line."""
    rows = [
        SHAREGPT[1],
        {
            "conversations": [
                {"from": "human", "value": "写一首诗"},
                {"from": "gpt", "value": "床前明月光"},
                {"from": "human", "value": ""},
                {"from": "gpt", "value": "疑是地上霜"},
            ]
        },
    ]
    src = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    rc, err = run(capsys, "convert", str(src), str(out), "--to", "openai", "--strict")
    assert rc == 0, err
    assert "read 2 = written 2 + rejected 0" in err
    assert _rows(out)[1]["messages"][2] == {"role": "user", "content": ""}
