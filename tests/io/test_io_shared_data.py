"""The real LLaMA-Factory demo sets read through dataset_info.json with the io layer.

Skipped when ../shared is absent. Pins what the text checks find in them (real defects:
mojibake such as 'CafÃ©', U+FFFD from earlier bad decoding) and that with the checks off every
record is read and round-trips through the native format unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge import read, write
from sftforge.formats import load_dataset_info
from shared_data import SHARED_DATA

INFO = SHARED_DATA / "llama_factory/data/dataset_info.json"
pytestmark = pytest.mark.skipif(not INFO.exists(), reason="shared data not present")

FLAGGED = {  # entry -> (records, what the default text checks reject)
    "dpo_en_demo": (300, {"mojibake": 1}),
    "dpo_zh_demo": (300, {"encoding": 6}),
    "kto_en_demo": (300, {"mojibake": 2}),
    "c4_demo": (300, {"encoding": 4}),
}


def _entries() -> list[str]:
    if not INFO.exists():
        return []
    return [n for n, e in load_dataset_info(INFO).items() if e.path is not None]


@pytest.mark.parametrize("name", _entries())
def test_entry_reads_and_round_trips_natively(name: str, tmp_path: Path) -> None:
    with read(f"{INFO}#{name}", on_error="skip") as checked:
        list(checked)
    count, reasons = FLAGGED.get(name, (checked.stats.read, {}))
    assert (checked.stats.read, dict(checked.stats.by_reason)) == (count, reasons)
    with read(f"{INFO}#{name}", check_text=False) as reader:
        items = list(reader)
    assert len(items) == count
    if reader.format.kind == "document":
        return
    write(items, tmp_path / "n.jsonl.zst", "sftforge")
    with read(tmp_path / "n.jsonl.zst", check_text=False) as back:
        assert list(back) == items
