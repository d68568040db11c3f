"""The first rows of a sort, found without sorting every row (``VersionView.first_sorted``), are
exactly the first rows of the full sorted order: ties in row order, nulls last, both directions,
with and without a selection, across chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sftforge.studio import browse
from sftforge.studio.versions import BROWSE_SCHEMA, browse_path


def _version(folder: Path, rows: int, seed: int) -> Path:
    """A browse file of ``rows`` rows in chunks of 700: integer and boolean columns with many
    ties and some nulls, the other columns constant."""
    rng = np.random.default_rng(seed)
    columns = {}
    for field in BROWSE_SCHEMA:
        if pa.types.is_integer(field.type):
            values = rng.integers(-5, 40, rows)
            nulls = rng.random(rows) < 0.1
            columns[field.name] = pa.array(values, field.type, mask=nulls)
        elif pa.types.is_boolean(field.type):
            columns[field.name] = pa.array(rng.random(rows) < 0.3, mask=rng.random(rows) < 0.1)
        elif pa.types.is_floating(field.type):
            columns[field.name] = pa.array(rng.random(rows))
        elif pa.types.is_list(field.type):
            columns[field.name] = pa.array([[] for _ in range(rows)], field.type)
        else:
            columns[field.name] = pa.array([f"r{i}" for i in range(rows)], field.type)
    table = pa.table(columns, schema=BROWSE_SCHEMA)
    path = folder / f"v{seed}.parquet"
    with (
        pa.OSFile(str(browse_path(path)), "wb") as sink,
        pa.ipc.new_file(sink, BROWSE_SCHEMA) as writer,
    ):
        for batch in table.to_batches(max_chunksize=700):
            writer.write_batch(batch)
    return path


@pytest.mark.parametrize("seed", [1, 2])
def test_the_first_rows_equal_the_full_orders(tmp_path: Path, seed: int) -> None:
    rows = 5_000
    fast = browse.VersionView(_version(tmp_path, rows, seed))
    full = browse.VersionView(fast.path)
    rng = np.random.default_rng(seed + 10)
    masks = [None, rng.random(rows) < 0.3, rng.random(rows) < 0.002, np.zeros(rows, bool)]
    checked = 0
    for column in ("chars", "n_turns", "tokens_est", "has_system", "human_verified", "src_line"):
        for desc in (False, True):
            order = full.order(column, desc)
            for mask in masks:
                expected = order if mask is None else order[mask[order]]
                for k in (1, 50, 137, 4_000, rows + 10):
                    got = fast.first_sorted(column, desc, mask, k)
                    assert got is not None
                    assert got.tolist() == expected[:k].tolist(), (column, desc, k)
                    checked += 1
    assert checked == 6 * 2 * 4 * 5
    # not for text or float columns, nor far from the top, nor once the full order is cached
    assert fast.first_sorted("first_user", False, None, 50) is None
    assert fast.first_sorted("score", False, None, 50) is None
    assert fast.first_sorted("chars", False, None, 20_000) is None
    fast.order("chars", True)
    assert fast.first_sorted("chars", True, None, 50) is None


def test_a_sorted_page_is_the_same_either_way(tmp_path: Path) -> None:
    path = _version(tmp_path, 3_000, 3)
    fast, full = browse.VersionView(path), browse.VersionView(path)
    for desc in (False, True):
        full.order("chars", desc)  # the full order cached: page() takes the old path
        for offset in (0, 50, 2_990):
            a = browse.page(fast, sort="chars", desc=desc, offset=offset, limit=50)
            b = browse.page(full, sort="chars", desc=desc, offset=offset, limit=50)
            assert a == b and a["total"] == 3_000
