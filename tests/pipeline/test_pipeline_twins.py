"""``TwinTable``: a keyed stage's kept twins on disk give the locators, ids and cluster sizes
that the in-memory dicts and the tuple count gave."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np

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


def test_twins_read_back_and_count_clusters_as_the_tuples_did(tmp_path: Path) -> None:
    sdir, offsets, locs, ids = _stage(tmp_path)
    # each drop's twin row, in drop order (twins repeat; 8 and 9 share an id and have no
    # locator, so the tuple count merged them; 1 and 2 share an id but not a locator)
    twin_of_drop = np.array([1, 2, 2, 8, 9, 9, 9, 0, 11, 1, 5], dtype=np.int64)
    table = TwinTable(sdir, offsets, np.unique(twin_of_drop), tmp_path / "spill" / "twins.bin")
    for r in sorted(set(twin_of_drop.tolist())):
        assert table.get(r) == (locs[r], ids[r])
    # what ``LocalExecutor._global_stage``'s reject counted: drops per (id, *locator values)
    per_twin: Counter[tuple[object, ...]] = Counter()
    for r in twin_of_drop.tolist():
        per_twin[(ids[r], *(locs[r] or {}).values())] += 1
    want = Counter(n + 1 for n in per_twin.values())
    assert table.cluster_sizes(twin_of_drop) == want
    assert want == Counter({3: 2, 2: 3, 5: 1})  # the merged 8 + 9 make the cluster of 5
    assert table.cluster_sizes(np.zeros(0, dtype=np.int64)) == Counter()
    table.close()
