"""docs/choosing-a-method.md: its memory and speed table is what ``sftforge.train.method_table``
makes from the dry-run estimates, and the estimates order the methods as they must."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sftforge.train.method_table import LENGTHS, SHAPES, markdown, rows

DOC = (Path(__file__).resolve().parents[2] / "docs" / "choosing-a-method.md").read_text("utf-8")


@pytest.fixture(scope="module")
def table():
    return rows()


def test_doc_table_is_what_the_estimates_give(table) -> None:
    block = re.search(r"<!-- method-table:start -->\n(.*?)<!-- method-table:end -->", DOC, re.S)
    assert block is not None
    assert block.group(1) == markdown(table)


def test_estimates_order_methods_and_lengths(table) -> None:
    by = {(r.model, r.method, r.max_len): r for r in table}
    for model in SHAPES:
        for n in LENGTHS:
            q, lo, full = (by[(model, m, n)] for m in ("qlora", "lora", "full"))
            assert q.memory_gib < lo.memory_gib < full.memory_gib
            assert q.gflops_per_token == lo.gflops_per_token < full.gflops_per_token
        memory = [by[(model, "lora", n)].memory_gib for n in LENGTHS]
        assert memory == sorted(memory) and len(set(memory)) == len(memory)
