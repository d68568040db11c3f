"""``sftforge demo`` runs on the built-in examples and writes its outputs where it says."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sftforge.api import load_formats
from sftforge.cli.demo import EXAMPLES, example_path
from sftforge.cli.main import main
from sftforge.formats.base import FORMATS


def test_examples_ship_inside_the_package() -> None:
    for name, _, _ in EXAMPLES:
        assert example_path(name).is_file()


def test_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    load_formats()
    if not {"alpaca", "sharegpt", "openai"} <= set(FORMATS):
        pytest.skip("the chat formats are not in this build")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "alpaca_zh_en.inspect.json",
        "alpaca_zh_en.openai.jsonl",
        "alpaca_zh_en.sharegpt.jsonl",
        "sharegpt_zh_en.alpaca.json",
        "sharegpt_zh_en.inspect.json",
        "sharegpt_zh_en.openai.jsonl",
    ]
    assert stdout.endswith("".join(f"  {out / n}\n" for n in [
        "alpaca_zh_en.inspect.json", "alpaca_zh_en.sharegpt.jsonl", "alpaca_zh_en.openai.jsonl",
        "sharegpt_zh_en.inspect.json", "sharegpt_zh_en.openai.jsonl", "sharegpt_zh_en.alpaca.json",
    ]))  # fmt: skip
    assert stderr.count("read 8 = written 8 + rejected 0") == 2
    assert stderr.count("read 6 = written 6 + rejected 0") == 2
    report = orjson.loads((out / "alpaca_zh_en.inspect.json").read_bytes())
    assert (report["format"], report["read"], report["ok"]) == ("alpaca", 8, 8)
