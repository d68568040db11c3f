"""Version files: the id is a content address (same rows and parent -> same id, whatever the
batching; any change -> another id), rows read back as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sftforge.sample import Message, Sample
from sftforge.studio.versions import (
    PARQUET_SCHEMA,
    SCHEMA,
    VersionWriter,
    browse_path,
    iter_batches,
    iter_rows,
    read_rows,
    row_from_sample,
)


def _rows(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        sample = Sample(
            messages=[Message("user", f"问题{i}"), Message("assistant", "答" * (i % 9 + 1))],
            meta={"tags": ["x", "y"][: i % 3], "score": 0.5 if i % 2 else None},
        )
        out.append(row_from_sample(sample, f"r{i}", src="s.jsonl", src_line=i + 1, made_by="t"))
    return out


def _write(
    folder: Path, rows: list[dict[str, Any]], parent: str | None = None, dataset: str = "d_1"
) -> tuple[str, Path]:
    writer = VersionWriter(folder, parent, dataset_id=dataset)
    for row in rows:
        writer.add(row)
    version_id, path, count = writer.finish()
    assert count == len(rows)
    return version_id, path


def test_same_rows_same_id_whatever_the_batching(tmp_path: Path) -> None:
    rows = _rows(10_000)
    first, path = _write(tmp_path / "a", rows)
    writer = VersionWriter(tmp_path / "b", None, dataset_id="d_1")
    for row in rows[:100]:
        writer.add(row)
    rest = pa.Table.from_batches(list(iter_batches(path))).slice(100)
    for batch in rest.to_batches(max_chunksize=777):
        writer.add_batch(batch)
    again, _, count = writer.finish()
    assert count == 10_000 and again == first


def test_any_change_or_another_parent_is_another_version(tmp_path: Path) -> None:
    rows = _rows(50)
    base, _ = _write(tmp_path / "a", rows)
    assert _write(tmp_path / "b", rows, parent="p1")[0] != base
    changed = [dict(r) for r in rows]
    changed[7]["status"] = "rejected"
    assert _write(tmp_path / "c", changed)[0] != base
    retagged = [dict(r) for r in rows]
    retagged[3]["tags"] = ["x"]
    assert _write(tmp_path / "d", retagged)[0] != base


def test_a_first_version_belongs_to_its_dataset(tmp_path: Path) -> None:
    """The same rows as the first version of two datasets are two versions (the dataset's id
    stands in for the missing parent); their content id is one and the same."""
    rows = _rows(50)
    ids = []
    for dataset in ("d_1", "d_2"):
        writer = VersionWriter(tmp_path / dataset, None, dataset_id=dataset)
        for row in rows:
            writer.add(row)
        version_id, _, _ = writer.finish()
        ids.append((version_id, writer.content_id))
    (one, same_content), (two, same_content_too) = ids
    assert one != two and same_content == same_content_too
    assert _write(tmp_path / "again", rows, dataset="d_2")[0] == two


def test_rows_read_back_by_index_and_in_order(tmp_path: Path) -> None:
    rows = _rows(10_000)
    _, path = _write(tmp_path, rows)
    got = read_rows(path, [9_999, 3, 8_192])
    assert [r["row_id"] for r in got] == ["r9999", "r3", "r8192"]
    assert got[1]["sample"] == rows[3]["sample"] and got[1]["tags"] == []
    assert [r["row_id"] for r in iter_rows(path)] == [r["row_id"] for r in rows]


def test_the_parquet_file_holds_the_content_and_rows_read_back_whole(tmp_path: Path) -> None:
    """The derived columns and the search text live in the browse file only; every reader
    gives whole rows (``SCHEMA``), equal to what was written."""
    rows = _rows(9_000)
    _, path = _write(tmp_path, rows)
    assert pq.ParquetFile(str(path)).schema_arrow.names == PARQUET_SCHEMA.names
    assert "search" not in PARQUET_SCHEMA.names and "sample" in PARQUET_SCHEMA.names
    assert list(iter_rows(path)) == rows
    assert all(b.schema == SCHEMA for b in iter_batches(path, batch_rows=1_000))
    assert read_rows(path, [8_999, 0, 8_192, 4_500]) == [rows[i] for i in (8_999, 0, 8_192, 4_500)]


def test_a_version_written_with_whole_rows_in_its_parquet_file_reads_the_same(
    tmp_path: Path,
) -> None:
    """Versions written before 2026-12-07 have every column in the Parquet file too."""
    rows = _rows(3_000)
    _, path = _write(tmp_path, rows)
    whole = pa.Table.from_batches(list(iter_batches(path)))
    pq.write_table(whole, path, row_group_size=1_000)  # as the studio wrote them then
    assert pq.ParquetFile(str(path)).schema_arrow.names == SCHEMA.names
    assert list(iter_rows(path)) == rows
    assert read_rows(path, [2_999, 7]) == [rows[2_999], rows[7]]


def test_stored_columns_alone_are_read_without_the_browse_file(tmp_path: Path) -> None:
    rows = _rows(300)
    _, path = _write(tmp_path, rows)
    whole = [r["sample"] for r in iter_rows(path)]
    only = [s for b in iter_batches(path, columns=["sample"]) for s in b.column(0).to_pylist()]
    assert only == whole and len(only) == 300
    browse_path(path).unlink()  # not needed for a column of the Parquet file
    assert sum(b.num_rows for b in iter_batches(path, columns=["row_id", "sample"])) == 300
    with pytest.raises(ValueError, match="not stored"):
        next(iter(iter_batches(path, columns=["chars"])))  # a derived column
