"""Column mapping on real files: GBK/BOM CSV with Chinese headers, TSV, .xlsx, Parquet, JSON and
JSONL; the proposal when detection fails (issue 16, problem 1) and --columns on the commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sftforge
from sftforge.cli.main import main
from sftforge.errors import InputError

FLAG = "--columns 问题=prompt,答案=response"


def _faq_rows(n: int = 300) -> list[tuple[str, str]]:
    return [
        (f"如何重置密码{i}？", f"<p>在设置页点击重置。客服电话 13800138000（{i}）</p>")
        for i in range(n)
    ]


def _gbk_csv(path: Path, n: int = 300) -> Path:
    """What Excel writes for 'CSV' on a Chinese Windows: GBK, CRLF, quoted where needed."""
    lines = ["问题,答案"] + [f'{q},"{a}"' for q, a in _faq_rows(n)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def _pairs(path: Path, **kw: Any) -> list[tuple[str, ...]]:
    with sftforge.read(path, **kw) as reader:
        return [tuple(m.content for m in s.messages) for s in reader]


# -- issue 16 problem 1: the 300-row GBK FAQ ---------------------------------------------------


def test_inspect_proposes_the_mapping_and_prints_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv")
    assert main(["inspect", str(csv)]) == 0
    out = capsys.readouterr().out
    assert f"format:     not detected; read with the proposed mapping {FLAG}" in out
    assert "container:  csv, encoding gb18030" in out
    assert "records:    300 read, 300 valid, 0 invalid" in out
    assert f"sftforge convert {csv} OUT --to alpaca {FLAG}" in out
    assert main(["inspect", str(csv), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["proposed_columns"] == "问题=prompt,答案=response"


@pytest.mark.parametrize("command", ["convert", "validate"])
def test_detection_failure_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv")
    out = [str(tmp_path / "o.json"), "--to", "alpaca"] if command == "convert" else []
    args = [command, str(csv), *out]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"error: {csv}: cannot detect the format: no known format fits records with keys: 问题, "
        f"答案. Fix: pass {FLAG} (proposed from the keys), or --from with one of: alpaca, "
    )
    assert "\n" not in err
    assert not (tmp_path / "o.json").exists()


def test_convert_with_columns_reads_every_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv")
    out = tmp_path / "faq.json"
    argv = [
        "convert",
        str(csv),
        str(out),
        "--to",
        "alpaca",
        "--columns",
        "问题=prompt,答案=response",
    ]
    assert main(argv) == 0
    assert "read 300 = written 300 + rejected 0" in capsys.readouterr().err
    rows = json.loads(out.read_text(encoding="utf-8"))
    want = [{"instruction": q, "input": "", "output": a} for q, a in _faq_rows()]
    assert rows == want


def test_a_mapped_field_the_file_lacks_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv", 3)
    assert main(["validate", str(csv), "--columns", "问题=prompt,答=response"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {csv}, field 'columns': column mapping: '答' (mapped to response) is not a field "
        "of the first 3 records; their fields are: 问题, 答案. Fix: map a field the file has "
        "(names are matched exactly)"
    )


def test_columns_and_from_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv", 3)
    assert main(["validate", str(csv), "--from", "alpaca", "--columns", "问题=prompt"]) == 1
    assert (
        "both a format (or a dataset_info.json entry) and a column mapping"
        in capsys.readouterr().err
    )


# -- every container -------------------------------------------------------------------------


def test_bom_csv_and_tsv(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "问题,答案,类别\n你好,您好,问候\n".encode())
    assert _pairs(bom, columns="问题=prompt,答案=response") == [("你好", "您好")]
    with sftforge.read(bom, columns={"问题": "prompt", "答案": "response"}) as reader:
        (s,) = list(reader)
    assert s.meta == {"fields": {"类别": "问候"}}  # an unmapped column is kept under its name
    tsv = tmp_path / "t.tsv"
    tsv.write_text("q\ta\nx\ty\n", encoding="utf-8")
    assert _pairs(tsv, columns="q=prompt,a=response") == [("x", "y")]


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["问题", "答案", "编号", "日期"])
    sheet.append(["退货要几天？", 7, 1, dt.datetime(2024, 3, 5, 15, 30)])
    sheet.append([None, None, None, None])  # an empty row: skipped
    sheet.append(["运费多少？", 12.5, 2, None])
    sheet.append(["空答案？", None, 3, None])
    book.create_sheet("notes").append(["ignored"])
    book.save(path)
    return path


def test_xlsx_numbers_become_text_and_empty_cells_are_empty(tmp_path: Path) -> None:
    xlsx = _workbook(tmp_path / "faq.xlsx")
    rejects: list[dict[str, Any]] = []
    with sftforge.read(
        xlsx, columns="问题=prompt,答案=response", on_error="skip", rejects=rejects.append
    ) as reader:
        got = [(tuple(m.content for m in s.messages), s.meta) for s in reader]
    assert reader.source.container == "xlsx"
    assert got == [
        (("退货要几天？", "7"), {"fields": {"编号": 1, "日期": "2024-03-05T15:30:00"}}),
        (("运费多少？", "12.5"), {"fields": {"编号": 2, "日期": None}}),
    ]
    # the row Excel shows as 5, with the reason
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (5, "there is no non-empty assistant answer.")
    ]


def test_xlsx_convert_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xlsx = _workbook(tmp_path / "faq.xlsx")
    out = tmp_path / "o.jsonl"
    argv = ["convert", str(xlsx), str(out), "--to", "alpaca", "--on-error", "skip"]
    assert main([*argv, "--columns", "问题=prompt,答案=response"]) == 0
    assert "read 3 = written 2 + rejected 1" in capsys.readouterr().err
    assert [json.loads(x)["output"] for x in out.read_text(encoding="utf-8").splitlines()] == [
        "7",
        "12.5",
    ]


def test_xls_is_refused_with_the_fix(tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError) as info:
        sftforge.read(xls, columns="q=prompt")
    assert str(info.value) == (
        f"{xls}: cannot read .xls (the Excel 97-2003 format). Fix: open it in Excel, WPS or "
        "LibreOffice and save it as .xlsx or .csv"
    )


def test_parquet_json_and_jsonl_with_nested_paths(tmp_path: Path) -> None:
    rows = [
        {"data": {"q": "Q1", "a": "A1"}, "src": "x"},
        {"data": {"q": "Q2", "a": "A2"}, "src": "y"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    (tmp_path / "d.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    columns = {"data.q": "prompt", "data.a": "response", "src": "meta.origin"}
    for name in ("d.parquet", "d.json", "d.jsonl"):
        with sftforge.read(tmp_path / name, columns=columns) as reader:
            got = [([m.content for m in s.messages], s.meta) for s in reader]
        assert got == [(["Q1", "A1"], {"origin": "x"}), (["Q2", "A2"], {"origin": "y"})], name


def test_lint_reads_a_csv_with_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _gbk_csv(tmp_path / "faq.csv", 5)
    assert main(["lint", str(csv), "--columns", "问题=prompt,答案=response", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["errors"]) == (5, 0)
