"""``TwinTable``: a keyed stage's kept twins on disk give the locators, ids and cluster sizes
that the in-memory dicts and the tuple count gave."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sftforge.ops.dedup.spill import Spill
from sftforge.pipeline.twins import TwinTable
from sftforge.pipeline.worker import PLACE_ID, places_path


def _stage(tmp_path: Path) -> tuple[Path, list[int], list[dict[str, object] | None], list[str]]:
    """Three chunks of locator files; some rows share an id, some have no locator at all."""
    sdir = tmp_path / "s00"
    sdir.mkdir()
    sizes = [4, 3, 5]
    offsets = [0, *np.cumsum(sizes).tolist()]
    locs: list[dict[str, object] | None] = []
    ids: list[str] = []
    for c, size in enumerate(sizes):
        src, rows, pids = [], [], []
        for i in range(size):
            r = offsets[c] + i
            bare = r in (8, 9, 10)  # no locator (samples a step added): counted by id alone
            src.append(None if bare else "train")
            rows.append(None if bare else r + 1)
            pids.append("same" if r in (1, 2, 8, 9) else f"id{r}")
            locs.append(None if bare else {"source": "train", "row": r + 1})
            ids.append(pids[-1])
        places = {"source": src, "row": rows, PLACE_ID: pids}
        places_path(sdir, c).write_bytes(pickle.dumps(places, protocol=5))
    return sdir, offsets, locs, ids


def _table(
    tmp_path: Path, twin_of_drop: np.ndarray, limit: int, block: int = 3
) -> tuple[TwinTable, list[dict[str, object] | None], list[str]]:
    sdir, offsets, locs, ids = _stage(tmp_path)
    rows, counts = np.unique(twin_of_drop, return_counts=True)
    keys = rows * 10 + 7  # looked up by another key than the row (a position, in a stage)
    blocks = [
        (keys[k : k + block], rows[k : k + block], counts[k : k + block])
        for k in range(0, len(rows), block)
    ]
    return TwinTable(sdir, offsets, blocks, Spill(1, tmp_path / "spill"), limit), locs, ids


@pytest.mark.parametrize("limit", [1 << 30, 0])  # in memory; every column in a file
def test_twins_read_back_and_count_clusters_as_the_tuples_did(
    tmp_path: Path, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftforge.pipeline import twins

    monkeypatch.setattr(twins, "STRIDE", 2)  # the sparse index over many blocks
    # each drop's twin row, in drop order (twins repeat; 8 and 9 share an id and have no
    # locator, so the tuple count merged them; 1 and 2 share an id but not a locator)
    twin_of_drop = np.array([1, 2, 2, 8, 9, 9, 9, 0, 11, 1, 5], dtype=np.int64)
    table, locs, ids = _table(tmp_path, twin_of_drop, limit)
    assert table.keys.spilled == (limit == 0)
    for r in [*sorted(set(twin_of_drop.tolist()))[::-1], 0, 11, 5]:
        assert table.get(r * 10 + 7) == (locs[r], ids[r])
    # what ``LocalExecutor._global_stage``'s reject counted: drops per (id, *locator values)
    per_twin: Counter[tuple[object, ...]] = Counter()
    for r in twin_of_drop.tolist():
        per_twin[(ids[r], *(locs[r] or {}).values())] += 1
    want = Counter(n + 1 for n in per_twin.values())
    # past the limit the digests are grouped in hash parts: the same sizes
    assert table.cluster_sizes() == want
    assert want == Counter({3: 2, 2: 3, 5: 1})  # the merged 8 + 9 make the cluster of 5
    assert list(table.cluster_sizes()) == sorted(want)
    table.close()


def test_no_twins_no_clusters(tmp_path: Path) -> None:
    table, _, _ = _table(tmp_path, np.zeros(0, dtype=np.int64), 0)
    assert len(table) == 0 and table.cluster_sizes() == Counter()
    table.close()
