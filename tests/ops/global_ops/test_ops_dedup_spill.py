"""Key columns in memory or in files (``ops/dedup/spill.py``): the same rows either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sftforge.ops.dedup.spill import Column, ColumnWriter, Ragged, Spill


@pytest.mark.parametrize("limit", [0, 200, 10**9])  # file from the start, midway, never
def test_a_column_reads_the_same_from_memory_or_file(tmp_path: Path, limit: int) -> None:
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 2**63, size=(n, 3), dtype=np.uint64) for n in (5, 0, 17, 9)]
    writer = ColumnWriter(Spill(budget=1, directory=tmp_path), "t", limit)
    for p in parts:
        writer.append(p)
    col = writer.finish()
    want = np.concatenate(parts)
    assert col.spilled == (limit < want.nbytes)
    assert list(tmp_path.iterdir()) if col.spilled else not list(tmp_path.iterdir())
    assert col.shape == want.shape and len(col) == len(want)
    assert np.array_equal(col.whole(), want)
    assert np.array_equal(col.block(3, 20), want[3:20])
    assert np.array_equal(col.block(25, 40), want[25:])  # past the end: what there is
    assert np.array_equal(np.concatenate([b for _, b in col.blocks(4)]), want)
    idx = np.array([30, 0, 7, 7])
    assert np.array_equal(col.take(idx), want[idx])
    col.close()


def test_to_file_moves_what_is_in_memory(tmp_path: Path) -> None:
    writer = ColumnWriter(Spill(budget=1, directory=tmp_path), "t", 10**9)
    writer.append(np.arange(4, dtype=np.int64))
    assert writer.in_memory == 32
    writer.to_file()
    writer.append(np.arange(4, 6, dtype=np.int64))
    assert writer.in_memory == 0
    col = writer.finish()
    assert col.spilled and col.whole().tolist() == [0, 1, 2, 3, 4, 5]


def test_an_empty_writer_gives_an_empty_column(tmp_path: Path) -> None:
    col = ColumnWriter(Spill(directory=tmp_path), "t", 0).finish(np.dtype(np.uint64), (2,))
    assert col.shape == (0, 2) and col.whole().dtype == np.uint64


def test_ragged_rows(tmp_path: Path) -> None:
    values = np.array([5, 7, 9, 1, 2], dtype=np.uint64)
    sizes = [2, 0, 3]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for col in (Column(values), Column(path=_write(tmp_path, values), dtype=np.uint64, shape=(5,))):
        rag = Ragged(col, offsets)
        assert [rag.get(i).tolist() for i in range(3)] == [[5, 7], [], [9, 1, 2]]


def _write(tmp_path: Path, values: np.ndarray) -> Path:
    path = tmp_path / "v.bin"
    path.write_bytes(values.tobytes())
    return path


def test_a_temporary_spill_folder_goes_with_its_owner() -> None:
    import gc

    spill = Spill()
    folder = spill.path("t").parent
    assert folder.is_dir()
    del spill
    gc.collect()
    assert not folder.exists()
