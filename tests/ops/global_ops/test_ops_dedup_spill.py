"""Key columns in memory or in files (``ops/dedup/spill.py``): the same rows either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sftforge.ops.dedup.spill import Column, ColumnWriter, Ragged, Runs, Spill, ragged_offsets


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


# every run in files; the first runs in memory, then all of them in files; all in memory
@pytest.mark.parametrize("limit", [0, 2000, 10**9])
def test_sorted_runs_come_back_merged_in_key_order(tmp_path: Path, limit: int) -> None:
    """Runs in any order, keys repeating within and across runs, windows with nothing in
    them: each window gives its rows sorted by key (equal keys in run order), payload along."""
    rng = np.random.default_rng(3)
    end, runs = 1000, Runs(Spill(1, tmp_path), "r", limit, 1000, window=64)
    added = []
    for r in range(7):
        keys = np.sort(rng.integers(0, 600, size=rng.integers(0, 90)))  # 600..999: empty
        runs.add(keys, np.full(len(keys), r, dtype=np.int8), keys.astype(np.float64) / 2)
        added += [(int(k), r) for k in keys]
        # 17 bytes a row (key, run, half): past the limit every column goes on in its file
        assert bool(list(tmp_path.iterdir())) == (len(added) * 17 > limit)
    assert (len(added) * 17 > limit) == (limit < 10**9)  # 2000: in memory first, then files
    got, starts = [], []
    for lo, keys, (run, half) in runs.windows():
        starts.append(lo)
        assert ((keys >= lo) & (keys < lo + 64)).all()
        assert np.array_equal(half, keys / 2) and run.dtype == np.int8
        got += list(zip(keys.tolist(), run.tolist(), strict=True))
    assert got == sorted(added)  # sorted by key, then run: a stable merge
    assert starts == list(range(0, end + 1, 64))  # every window, in order
    assert not list(tmp_path.iterdir())  # the runs' files go once read


def test_no_runs_no_windows(tmp_path: Path) -> None:
    assert list(Runs(Spill(1, tmp_path), "r", 0, 100).windows()) == []


def test_take_of_ascending_rows_from_a_file_reads_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftforge.ops.dedup import spill

    monkeypatch.setattr(spill, "BLOCK_ROWS", 8)
    values = np.arange(100, dtype=np.uint64) * 3
    col = Column(path=_write(tmp_path, values), dtype=np.uint64, shape=(100,))
    reads = []
    real = col._read
    monkeypatch.setattr(col, "_read", lambda o, n: reads.append(n) or real(o, n))
    idx = np.array([0, 1, 1, 7, 8, 40, 41, 99])
    assert np.array_equal(col.take(idx), values[idx])
    assert len(reads) == 4  # 0-7, 8, 40-41, 99: a read per block, not per row
    assert np.array_equal(col.take(np.array([5, 2])), values[[5, 2]])  # any order still works


@pytest.mark.parametrize("limit", [0, 10**9])
def test_ragged_offsets_sum_sizes_a_block_at_a_time(
    tmp_path: Path, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftforge.ops.dedup import spill

    monkeypatch.setattr(spill, "BLOCK_ROWS", 4)
    sizes = np.array([2, 0, 3, 1, 0, 0, 5, 1, 2, 4], dtype=np.int64)
    offsets = ragged_offsets(Column(sizes), Spill(1, tmp_path), limit)
    assert offsets.spilled == (limit == 0)
    assert offsets.whole().tolist() == [0, *np.cumsum(sizes).tolist()]
    values = Column(np.arange(int(sizes.sum()), dtype=np.uint64))
    rag = Ragged(values, offsets)
    assert [len(rag.get(i)) for i in range(10)] == sizes.tolist()
    assert rag.get(6).tolist() == [6, 7, 8, 9, 10]


def _dup_samples(n: int) -> list[Any]:
    """Copies with a word changed, exact copies and new texts, in random order (seeded)."""
    import random

    from sftforge.sample import Message, Sample

    rng = random.Random(5)
    words = [f"w{i}" for i in range(40)]
    bases = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(n // 6)]
    out = []
    for i in range(n):
        text = rng.choice(bases).split()
        if i % 3 == 1:
            text[rng.randrange(len(text))] = "zz"
        elif i % 3 == 2:
            text = [rng.choice(words) for _ in range(rng.choice([0, 3, 30]))]
        out.append(Sample([Message("user", "q"), Message("assistant", " ".join(text))]))
    return out


@pytest.mark.parametrize(
    "spec",
    [
        ("dedup_exact", {}),
        ("dedup_exact", {"keep": "longest"}),
        ("dedup_near", {"threshold": 0.7, "ngram": 3}),
        ("dedup_near", {"threshold": 0.7, "ngram": 3, "keep": "longest"}),
        ("dedup_near", {"threshold": 0.7, "ngram": 3, "verify": "estimate"}),
    ],
    ids=str,
)
def test_a_tiny_budget_gives_the_same_drop_table_from_files(
    tmp_path: Path, spec: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``choose`` past its budget: the drops (found in runs, merged from files), their twins,
    values, reasons and the cluster counts are those of the in-memory run."""
    from sftforge.ops import base
    from sftforge.ops.dedup import spill

    samples = _dup_samples(600)

    def choose(budget: int, folder: Path) -> tuple[Any, Any]:
        op = base.build_op(*spec)
        assert isinstance(op, base.GlobalOp)
        op.spill = Spill(budget, folder)  # type: ignore[attr-defined]
        keys = op.keys(samples, {})
        return op.choose(keys, lambda _: iter(())), op

    ref, ref_op = choose(1 << 30, tmp_path / "big")
    monkeypatch.setattr(spill, "BLOCK_ROWS", 64)  # many blocks, windows and runs
    # 16 KB: every structure passes its share (the bands grouped in 10 hash parts)
    tiny, tiny_op = choose(16 << 10, tmp_path / "tiny")
    assert len(ref) > 50
    assert all(c.spilled for c in tiny.columns) and not any(c.spilled for c in ref.columns)
    for name in ("positions", "reason", "value", "kept_positions"):
        assert np.array_equal(getattr(tiny, name), getattr(ref, name)), name
    assert list(tiny) == list(ref)  # read as ``Drop``s, a block at a time
    assert [tiny[k] for k in range(len(tiny))] == list(ref) == [ref[k] for k in range(len(ref))]
    blocks = list(tiny.blocks(7))
    assert [b[0] for b in blocks] == list(range(0, len(ref), 7))
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), ref.positions)
    assert dict(tiny_op.counters.extra) == dict(ref_op.counters.extra)
    assert tiny_op.clusters == ref_op.clusters
