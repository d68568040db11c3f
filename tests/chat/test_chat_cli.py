"""`sftforge tokenize` and `sftforge preview` end to end, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from chat_fixtures import CONVERSATIONS

from sftforge.cli.main import main


@pytest.fixture
def samples_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in CONVERSATIONS.values()))
    return path


def test_tokenize_writes_rows_rejects_report_debug(
    samples_file: Path, bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "train.parquet"
    rc = main(
        [
            "tokenize", str(samples_file), str(out), "--tokenizer", str(bpe_dir),
            "--template", "llama2", "--report", str(tmp_path / "r.json"),
            "--debug", str(tmp_path / "d.jsonl"),
        ]
    )  # fmt: skip
    assert rc == 0
    table = pq.read_table(out)
    assert table.column_names == ["id", "input_ids", "labels", "attention_mask"]
    assert table.num_rows == 3
    rejects = [
        orjson.loads(x) for x in (tmp_path / "train.rejects.jsonl").read_bytes().splitlines()
    ]
    assert [(r["op"], r["reason"], r["sample"]["id"]) for r in rejects] == [
        ("tokenize", "template_error", CONVERSATIONS["tools"].id)
    ]
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["counts"] == {"kept": 3, "rejected:template_error": 1, "seen": 4}
    assert len((tmp_path / "d.jsonl").read_bytes().splitlines()) == 3
    assert capsys.readouterr().out.startswith(f"4 samples: 3 written to {out}, 1 rejected")


def test_tokenize_pack(samples_file: Path, bpe_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "packed.parquet"
    args = ["tokenize", str(samples_file), str(out), "--tokenizer", str(bpe_dir)]
    assert main([*args, "--template", "qwen3", "--max-len", "1024", "--pack"]) == 0
    table = pq.read_table(out).to_pylist()
    assert sorted(i for row in table for i in row["ids"]) == sorted(
        s.id for s in CONVERSATIONS.values()
    )
    assert all(sum(r["seq_lens"]) == len(r["input_ids"]) <= 1024 for r in table)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--template", "nope"], "error: field 'template': unknown chat template 'nope'."),
        (["--pack"], "error: field 'pack': --pack needs --max-len (the bin size)."),
        (["--train-on", "some"], "error: field 'train_on': unknown train_on policy 'some'."),
    ],
)
def test_tokenize_errors_are_one_line(
    samples_file: Path,
    bpe_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["tokenize", str(samples_file), str(tmp_path / "o.parquet"), "--tokenizer", str(bpe_dir)]
    assert (
        main(
            [*args, "--template", "chatml", *extra]
            if "--template" not in extra
            else [*args, *extra]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_missing_tokenizer_folder(
    samples_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "tokenize",
            str(samples_file),
            str(tmp_path / "o.parquet"),
            "--tokenizer",
            str(tmp_path / "no"),
        ]
    )
    assert rc == 1
    assert capsys.readouterr().err == (
        f"error: field 'tokenizer': tokenizer folder '{tmp_path / 'no'}' does not exist. "
        "Fix: pass a local folder with tokenizer.json or tokenizer.model, or a model id such as"
        " Qwen/Qwen2.5-1.5B-Instruct\n"
    )


def test_bad_input_line_names_file_and_line_with_strict(
    bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(CONVERSATIONS["single"].to_json() + b"\n{not json\n")
    args = ["tokenize", str(bad), str(tmp_path / "o.parquet"), "--tokenizer", str(bpe_dir)]
    rc = main([*args, "--template", "chatml", "--strict"])
    assert rc == 1
    assert capsys.readouterr().err.startswith(
        f"error: {bad}:2:2: invalid JSON: unexpected character"
    )


def test_a_bad_input_line_goes_to_the_rejects_by_default(
    bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 16: a record problem never stops a file by default."""
    bad = tmp_path / "bad.jsonl"
    tools = CONVERSATIONS["tools"]  # the llama2 template cannot render tool calls
    bad.write_bytes(CONVERSATIONS["single"].to_json() + b"\n{not json\n" + tools.to_json() + b"\n")
    out = tmp_path / "o.parquet"
    args = ["tokenize", str(bad), str(out), "--tokenizer", str(bpe_dir), "--template", "llama2"]
    assert main(args) == 0
    assert pq.read_table(out).num_rows == 1
    rejects = [orjson.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_bytes().splitlines()]
    assert [(r["op"], r["file"], r["line"], r["reason"][:12]) for r in rejects] == [
        ("read", str(bad), 2, "invalid JSON"),
        ("tokenize", str(bad), 3, "template_err"),
    ]
    assert rejects[0]["raw"] == "{not json"
    err = capsys.readouterr().err
    assert "warning: 1 of 3 records rejected (invalid_json 1); each with file, line" in err


def test_a_template_that_fails_every_row_exits_1(
    bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 16 problem 2: a tokenize whose template fails every row wrote nothing and exited 0."""
    src = tmp_path / "tools.jsonl"
    src.write_bytes(CONVERSATIONS["tools"].to_json() + b"\n")
    out = tmp_path / "o.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(bpe_dir), "--template", "llama2"]
    assert main(args) == 1
    err = capsys.readouterr().err
    [error] = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert error.startswith(
        f"error: none of the 1 records of {src} could be used (template_error 1)"
    )
    assert "Fix: the chat template fails on every sample" in err and "--template" in err
    assert not out.exists()
    # the refused samples are in the rejects file the error points at, with their place
    rejects = [orjson.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_bytes().splitlines()]
    assert [(r["op"], r["file"], r["line"], r["reason"]) for r in rejects] == [
        ("tokenize", str(src), 1, "template_error")
    ]


def test_an_unreadable_file_exits_1_naming_the_format(
    bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "faq.jsonl"
    src.write_bytes('{"问题": "q", "答案": "a"}\n{"问题": "q2", "答案": "a2"}\n'.encode())
    out = tmp_path / "o.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(bpe_dir), "--from", "alpaca"]
    assert main([*args, "--template", "chatml"]) == 1
    err = capsys.readouterr().err
    [error] = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert error.startswith(f"error: none of the 2 records of {src} could be used (format 2)")
    assert "Fix: the records are not in the 'alpaca' format: pass --from with the file's" in err
    assert len((tmp_path / "o.rejects.jsonl").read_bytes().splitlines()) == 2
    assert not out.exists()


def test_preview_terminal_and_html(
    samples_file: Path, bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "p.html"
    args = ["preview", str(samples_file), "--tokenizer", str(bpe_dir), "--template", "chatml"]
    assert main([*args, "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "I am fine, thank you.<|im_end|>" in out
    html = page.read_text(encoding="utf-8")
    assert '<span class="t">I am fine, thank you.&lt;|im_end|&gt;</span>' in html
    assert '<span class="m">&lt;|im_start|&gt;system\nYou are a helpful assistant.' in html
    assert html.count('class="t"') == 2  # one trained stretch + the legend
    assert "<script" not in html


def test_tokenize_reads_other_formats(bpe_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "alpaca.json"
    rows = [{"instruction": "Write a poem.", "input": "", "output": "Roses are red."}]
    src.write_bytes(orjson.dumps(rows))
    out = tmp_path / "a.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(bpe_dir), "--template", "alpaca"]
    assert main([*args, "--from", "alpaca"]) == 0
    (row,) = pq.read_table(out).to_pylist()
    from sftforge.chat import load_tokenizer

    tok = load_tokenizer(bpe_dir)
    trained = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100]
    assert tok.decode(trained) == "Roses are red.</s>"


def test_tokenize_a_gbk_csv_through_columns(bpe_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "faq.csv"
    src.write_bytes("问题,答案\r\nWrite a poem.,Roses are red.\r\n".encode("gbk"))
    out = tmp_path / "c.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(bpe_dir), "--template", "alpaca"]
    assert main([*args, "--columns", "问题=prompt,答案=response"]) == 0
    (row,) = pq.read_table(out).to_pylist()
    from sftforge.chat import load_tokenizer

    tok = load_tokenizer(bpe_dir)
    trained = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100]
    assert tok.decode(trained) == "Roses are red.</s>"


@pytest.mark.parametrize(
    ("flags", "trained"),
    [
        (
            [],
            '<span class="t">&lt;think&gt;\n\n&lt;/think&gt;\n\nI am fine, thank you.&lt;|im_end|&gt;</span>',
        ),
        (["--no-thinking"], '<span class="t">I am fine, thank you.&lt;|im_end|&gt;</span>'),
    ],
)
def test_preview_thinking_switch(
    samples_file: Path, bpe_dir: Path, tmp_path: Path, flags: list[str], trained: str
) -> None:
    page = tmp_path / "p.html"
    args = ["preview", str(samples_file), "--tokenizer", str(bpe_dir), "--template", "qwen3"]
    assert main([*args, *flags, "--html", str(page)]) == 0
    assert trained in page.read_text(encoding="utf-8")


def test_an_output_not_named_parquet_is_refused_before_any_work(
    samples_file: Path, bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rows are Parquet: written under a .jsonl name they looked like JSONL and were not."""
    out = tmp_path / "t.jsonl"
    args = ["tokenize", str(samples_file), str(out), "--tokenizer", str(bpe_dir)]
    assert main([*args, "--template", "chatml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}, field 'output': tokenize writes Parquet")
    assert "Fix: name it t.parquet" in err
    assert not out.exists() and not (tmp_path / "t.rejects.jsonl").exists()
