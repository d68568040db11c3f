from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sftforge.cli.main import main

MULTI = {
    "messages": [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": "ok"},
    ]
}
SINGLE = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (MULTI, SINGLE)))
    return path


def test_rejected_samples_make_export_exit_1_and_are_listed(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lit"
    assert main(["export", str(data), "--for", "litgpt", str(out)]) == 1
    captured = capsys.readouterr()
    assert "litgpt: 1 of 2 samples written" in captured.out
    assert (
        f"error: 1 of 2 samples could not be exported for litgpt (reasons in {out / 'rejects.jsonl'}); "
        "pass --allow-lossy to write what the format can carry and count the losses"
    ) in captured.err
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejects] == [
        "a conversation of 2 exchanges: LitGPT's 'alpaca' prompt style is single-turn (it has no "
        "way to write the earlier turns)."
    ]
    assert json.loads((out / "data" / "train.json").read_text()) == [
        {"instruction": "a", "input": "", "output": "b"}
    ]


def test_allow_lossy_exports_all_and_counts_the_loss(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lit"
    assert main(["export", str(data), "--for", "litgpt", str(out), "--allow-lossy"]) == 0
    assert "note: dropped multi-turn from 1 samples" in capsys.readouterr().out
    assert len(json.loads((out / "data" / "train.json").read_text())) == 2
    assert not (out / "rejects.jsonl").exists()


def test_nothing_rejected_exits_0(data: Path, tmp_path: Path) -> None:
    assert main(["export", str(data), "--for", "trl", str(tmp_path / "trl")]) == 0


def test_export_reads_a_csv_through_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "faq.csv"
    src.write_bytes("问题,答案\r\n怎么退货？,七天内可退。\r\n".encode("gbk"))
    out = tmp_path / "lit"
    assert (
        main(
            [
                "export",
                str(src),
                "--for",
                "litgpt",
                str(out),
                "--columns",
                "问题=prompt,答案=response",
            ]
        )
        == 0
    )
    assert "litgpt: 1 of 1 samples written" in capsys.readouterr().out
    assert json.loads((out / "data" / "train.json").read_text(encoding="utf-8")) == [
        {"instruction": "怎么退货？", "input": "", "output": "七天内可退。"}
    ]


@pytest.mark.parametrize(
    "framework", ["llamafactory", "xtuner", "swift", "axolotl", "litgpt", "trl"]
)
def test_the_printed_run_line_is_quoted_for_the_shell(
    data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
) -> None:
    """Pasting the ``run:`` line must not run what a folder name says: the whole line is fed to
    a real shell with each trainer program replaced by a function that prints its arguments."""
    monkeypatch.chdir(tmp_path)
    folder = "exp_$(touch PWNED);x `touch PWNED2` 'q\" 中文"
    main(["export", str(data), "--for", framework, folder, "--allow-lossy"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("run: "))
    command = line.removeprefix("run: ")
    fakes = "; ".join(
        f'{p}() {{ echo RAN {p}; for a; do printf "%s\\n" "$a"; done; }}'
        for p in ("llamafactory-cli", "xtuner", "bash", "axolotl", "python")
    )
    res = subprocess.run(
        ["bash", "-c", f"{fakes}; {command}"], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert "RAN " in res.stdout, res.stdout
    assert (tmp_path / folder).is_dir()


def test_unreadable_records_go_to_the_rejects_and_the_rest_is_exported(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 16: a bad record never stops export by default; --strict does."""
    src = tmp_path / "mixed.jsonl"
    src.write_text(data.read_text() + "{broken\n", encoding="utf-8")
    out = tmp_path / "lf"
    assert main(["export", str(src), "--for", "llamafactory", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 of 3 records rejected (invalid_json 1)" in err
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["op"], r["file"], r["line"], r["raw"]) for r in rejects] == [
        ("read", str(src), 3, "{broken")
    ]
    assert main(["export", str(src), "--for", "llamafactory", str(tmp_path / "s"), "--strict"]) == 1
    assert f"error: {src}:3" in capsys.readouterr().err


def test_export_of_a_file_that_reads_nothing_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "faq.jsonl"
    src.write_text('{"问题": "q", "答案": "a"}\n', encoding="utf-8")
    out = tmp_path / "lf"
    assert main(["export", str(src), "--for", "llamafactory", str(out), "--from", "alpaca"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: none of the 1 records of {src} could be used (format 1)")
    assert len((out / "rejects.jsonl").read_text().splitlines()) == 1


def test_export_says_which_kept_fields_it_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    rec = {**SINGLE, "domain": "医疗"}
    rec["messages"] = [{**SINGLE["messages"][0], "ts": 1}, SINGLE["messages"][1]]
    src.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["export", str(src), "--for", "llamafactory", str(tmp_path / "lf")]) == 0
    out = capsys.readouterr().out
    assert "note: left out extra fields of 1 samples" in out
    assert "note: left out extra turn fields of 1 samples" in out
