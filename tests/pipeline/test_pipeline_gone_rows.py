"""``GoneRows``: the rows earlier keyed stages dropped, read chunk by chunk from their files."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from sftforge.pipeline import gone_rows
from sftforge.pipeline.gone_rows import GoneRows, live_rows


def _write(path: Path, rows: np.ndarray) -> Path:
    path.write_bytes(b"".join(b"%d\n" % r for r in rows.tolist()))
    return path


@pytest.mark.parametrize("read", [4, 1 << 20])  # a few lines a read; the whole file at once
def test_gone_rows_merge_the_files_chunk_by_chunk(
    tmp_path: Path, read: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stages' dropped rows (disjoint, each ascending) and an array of rows: each chunk
    gets exactly its rows, in order, whatever the read size; rows past the last chunk are
    never given."""
    monkeypatch.setattr(gone_rows, "_READ", read)
    rng = np.random.default_rng(7)
    rows = rng.choice(1000, size=300, replace=False)
    a, b, c = np.sort(rows[:120]), np.sort(rows[120:250]), np.sort(rows[250:])
    paths = [_write(tmp_path / "a.jsonl", a), _write(tmp_path / "b.jsonl", b)]
    want = np.sort(rows)
    edges = [0, 0, 3, 50, 51, 400, 401, 999, 1000]  # empty chunks, one-row chunks
    with GoneRows(paths, rows=c) as gone:
        got = [gone.upto(hi) for hi in edges[1:]]
        assert gone.upto(1000).tolist() == []  # nothing is given twice
    for (lo, hi), part in zip(pairwise(edges), got, strict=True):
        assert part.tolist() == want[(want >= lo) & (want < hi)].tolist()
        assert part.dtype == np.int64


def test_no_files_no_rows(tmp_path: Path) -> None:
    assert GoneRows().upto(10).tolist() == []
    empty = tmp_path / "dropped.jsonl"
    empty.write_bytes(b"")
    with GoneRows([empty]) as gone:
        assert gone.upto(10).tolist() == [] and gone.upto(20).tolist() == []


def test_live_rows_are_the_chunk_less_its_gone_rows() -> None:
    assert live_rows(10, 16, np.array([10, 13, 15])).tolist() == [11, 12, 14]
    assert live_rows(10, 13, np.zeros(0, dtype=np.int64)).tolist() == [10, 11, 12]
    assert live_rows(5, 5, np.zeros(0, dtype=np.int64)).tolist() == []
