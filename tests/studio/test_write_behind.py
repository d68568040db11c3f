"""Writing a version in a thread of its own (``WriteBehind``, ``VersionWriter(background=True)``):
the same files as writing in the caller's thread; the writing's error raised in the caller."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

import sftforge.convert as convert_module
import sftforge.studio.imports as imports_module
from sftforge.sample import Message, Sample
from sftforge.studio import versions as versions_module
from sftforge.studio.versions import VersionWriter, browse_path, samples_batch
from sftforge.studio.write_behind import WriteBehind


def test_work_is_done_in_order_in_another_thread() -> None:
    done: list[tuple[int, str]] = []
    behind = WriteBehind(lambda item: done.append((item, threading.current_thread().name)))
    for i in range(50):
        behind.put(i)
    behind.wait()
    assert [i for i, _ in done] == list(range(50))
    assert {name for _, name in done} == {"sftforge-write"}
    behind.close()


def test_the_first_error_is_raised_in_the_caller_and_the_rest_dropped() -> None:
    done: list[int] = []

    def work(item: int) -> None:
        if item == 3:
            raise OSError(28, "No space left on device")
        done.append(item)

    behind = WriteBehind(work)
    raised = []
    for i in range(6):
        try:
            behind.put(i)
        except OSError as exc:  # (by a later put, or by close)
            raised.append(exc)
    try:
        behind.close()
    except OSError as exc:
        raised.append(exc)
    behind.close()
    assert [str(e) for e in raised] == ["[Errno 28] No space left on device"]
    assert done == [0, 1, 2]


def _batches(n: int, size: int) -> list[pa.RecordBatch]:
    samples = [
        Sample([Message("user", f"问题 {i}"), Message("assistant", "答" * (i % 7 + 1))])
        for i in range(n)
    ]
    out = []
    for k in range(0, n, size):
        at = range(k, min(k + size, n))
        ids = [f"r{i}" for i in at]
        out.append(samples_batch(samples[k : k + size], ids, list(at), src="in", made_by="t"))
    return out


def _files(
    folder: Path, batches: list[pa.RecordBatch], background: bool
) -> tuple[str, bytes, bytes]:
    writer = VersionWriter(folder, None, dataset_id="d_1", background=background)
    for batch in batches:
        writer.add_rows(batch)
    version_id, path, rows = writer.finish()
    assert rows == sum(b.num_rows for b in batches)
    return version_id, path.read_bytes(), browse_path(path).read_bytes()


def test_a_version_written_in_the_background_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(versions_module, "ROW_GROUP", 100)
    batches = _batches(1000, 37)
    assert _files(tmp_path / "a", batches, True) == _files(tmp_path / "b", batches, False)


def test_a_failed_write_is_raised_by_finish_and_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(versions_module, "ROW_GROUP", 100)
    writer = VersionWriter(tmp_path, None, dataset_id="d_1", background=True)

    def full(batch: pa.RecordBatch) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write", full)
    with pytest.raises(OSError, match="No space left"):
        for batch in _batches(500, 50):
            writer.add_rows(batch)
        writer.finish()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("idle", "workers", "size", "thread"),
    [
        (2, 1, 10, True),  # a core left idle by the one process: the writing goes there
        (1, 1, 10, False),  # a busy machine: the threads would take turns at the GIL
        (2, None, 10, True),  # a small input is decoded in one process
        (2, None, 20 << 20, False),  # a large one by two: no core left
        (4, None, 20 << 20, False),
        (4, 2, 20 << 20, True),
    ],
)
def test_the_import_writes_in_a_thread_only_beside_an_idle_cpu(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    idle: int,
    workers: int | None,
    size: int,
    thread: bool,
) -> None:
    monkeypatch.setattr(convert_module, "idle_cpus", lambda: idle)
    src = tmp_path / "in.jsonl"
    with src.open("wb") as fh:
        fh.truncate(size)
    assert imports_module._write_behind(src, workers) is thread
