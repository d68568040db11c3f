"""docs/byo-data.md: the FAQ walk-through runs as written, from the GBK CSV and from the .xlsx."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import orjson
import pytest

from sftforge.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "byo-data.md").read_text(encoding="utf-8")
COMMANDS = [
    line
    for block in re.findall(r"```bash\n(.*?)```", DOC, re.S)
    for line in block.splitlines()
    if line.startswith("sftforge ")
]


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture
def in_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples" / "faq", tmp_path / "examples" / "faq")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_example_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples" / "faq"))
    try:
        import make_faq
    finally:
        sys.path.pop(0)
    make_faq.main(str(tmp_path))
    assert (tmp_path / "faq.csv").read_bytes() == (ROOT / "examples/faq/faq.csv").read_bytes()
    raw = (ROOT / "examples/faq/faq.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GBK, as Excel writes it
    assert raw.decode("gbk").splitlines()[0] == "问题,答案"


def test_doc_lists_the_whole_path() -> None:
    used = [shlex.split(line)[1] for line in COMMANDS]
    assert used == ["inspect", "convert", "run", "export"]


def _check_run(run: Path) -> None:
    report = orjson.loads((run / "report.json").read_bytes())
    counts = report["counts"]
    assert counts["per_input"]["faq"] == {"read": 300, "kept": 248, "rejected": 52}
    assert counts["added"] == 20
    train, validation = _rows(run / "train.jsonl"), _rows(run / "validation.jsonl")
    rejects = _rows(run / "rejects.jsonl")
    assert (len(train), len(validation), len(rejects)) == (243, 25, 52)
    assert {r["op"] for r in rejects} == {"dedup_exact", "dedup_near"}
    text = (run / "train.jsonl").read_text(encoding="utf-8") + (run / "validation.jsonl").read_text(
        encoding="utf-8"
    )
    assert "<p>" not in text and "<b>" not in text and "<br" not in text  # HTML cleaned
    assert not re.search(r"1[3-9]\d{9}|\d{3}-\d{4}-\d{4}", text)  # phone numbers redacted
    assert "[PHONE]" in text
    assert "192.168.1.1" in text and "[IP]" not in text  # the router's admin address is kept
    # the self-cognition set: all 20 in train, none in validation
    assert sum("小帆" in orjson.dumps(r).decode() for r in train) == 20
    assert not any("小帆" in orjson.dumps(r).decode() for r in validation)


def test_walkthrough_runs_as_written(in_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for line in COMMANDS:
        assert main(shlex.split(line)[1:]) == 0, line
        out = capsys.readouterr()
        if " inspect " in f" {line} ":
            assert "--columns 问题=prompt,答案=response" in out.out
    assert len(_rows(in_copy / "runs/faq-raw.jsonl")) == 300
    _check_run(in_copy / "runs/faq")
    export = in_copy / "runs/faq-lf"
    info = orjson.loads((export / "dataset_info.json").read_bytes())
    assert {info["faq"]["file_name"], info["faq_eval"]["file_name"]} == {
        "faq.json",
        "faq_eval.json",
    }
    config = (export / "train_lora_sft.yaml").read_text(encoding="utf-8")
    for line in ("dataset: faq", "eval_dataset: faq_eval", "dataset_dir: .", "template: qwen"):
        assert line in config.splitlines()
    assert len(orjson.loads((export / "faq.json").read_bytes())) == 243
    assert len(orjson.loads((export / "faq_eval.json").read_bytes())) == 25
    # a second export into the same folder is refused; the doc says so
    export_line = next(line for line in COMMANDS if line.startswith("sftforge export "))
    assert main(shlex.split(export_line)[1:]) == 1


def test_xlsx_gives_the_same_outputs(in_copy: Path) -> None:
    recipe = in_copy / "examples/faq/recipe.yaml"
    assert main(["run", str(recipe), "-o", "runs/from-csv"]) == 0
    recipe.write_text(
        recipe.read_text(encoding="utf-8").replace("path: faq.csv", "path: faq.xlsx"),
        encoding="utf-8",
    )
    assert main(["run", str(recipe), "-o", "runs/from-xlsx"]) == 0
    _check_run(in_copy / "runs/from-xlsx")
    for name in ("train.jsonl", "validation.jsonl"):
        assert (in_copy / "runs/from-xlsx" / name).read_bytes() == (
            in_copy / "runs/from-csv" / name
        ).read_bytes()
