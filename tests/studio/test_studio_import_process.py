"""Imports with ``import_workers`` > 1 run in a process of their own (``import_process``): the
server is never forked; the version, counts and rejects are those of an import in the job's
thread, a bad file fails with the same one line, and a child that dies fails the import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sftforge.studio.store as store_module

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from studio_helpers import alpaca, import_rows, new_dataset

import sftforge.convert as convert_module
import sftforge.studio.import_process as import_process
from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings


def _client(home: Path, workers: int) -> TestClient:
    settings = StudioSettings(home=home, open_browser=False, import_workers=workers)
    return TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False)


@pytest.fixture(autouse=True)
def _small_inputs_use_the_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs of any size go to the import process (by default only those of 16 MiB or more)."""
    monkeypatch.setattr(convert_module, "PARALLEL_MIN_BYTES", 0)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with _client(tmp_path / "one", 1) as one, _client(tmp_path / "two", 2) as two:
        yield one, two


def _records() -> list[Any]:
    rows: list[Any] = alpaca(300)
    rows[7] = {"instruction": "没有回答", "output": ""}  # rejected: an empty answer
    rows[40] = {"instruction": "重复", "output": "x", "id": "dup"}
    rows[41] = {"instruction": "重复", "output": "y", "id": "dup"}  # a repeated id: dup#<line>
    return rows


def test_an_import_in_its_own_process_makes_the_same_version(
    pair: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = pair
    # one dataset id in both homes: a first version's id hashes its dataset's id
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}_same")
    got = []
    for client in (one, two):
        dataset = new_dataset(client)
        done = import_rows(client, dataset, "data.jsonl", _records())
        assert done["status"] == "done", done
        page = client.get(f"/api/datasets/{dataset}/versions/head/rows", params={"limit": 500})
        got.append((done, page.json()))
    (a, rows_a), (b, rows_b) = got
    assert (b["read"], b["imported"], b["rejected"]) == (a["read"], a["imported"], a["rejected"])
    assert (a["read"], a["imported"], a["rejected"]) == (300, 299, 1)
    assert b["version_id"] == a["version_id"]
    assert rows_b == rows_a and "dup#42" in {r["row_id"] for r in rows_b["rows"]}
    rejects = two.get(f"/api/imports/{b['id']}/rejects").json()
    assert "empty" in str(rejects)


def test_a_bad_file_fails_with_the_libraries_line(pair: tuple[TestClient, TestClient]) -> None:
    _, two = pair
    dataset = new_dataset(two)
    done = import_rows(two, dataset, "bad.jsonl", "not json at all\n{also not}\n")
    assert done["status"] == "failed" and "bad.jsonl" in done["error"]
    assert "\n" not in done["error"]
    assert two.get(f"/api/datasets/{dataset}").json()["head_version"] is None


def test_a_child_that_dies_fails_the_import_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_process, "__name__", "sftforge.studio.no_such_module")
    with _client(tmp_path / "home", 2) as client:
        dataset = new_dataset(client)
        done = import_rows(client, dataset, "data.jsonl", alpaca(5))
    assert done["status"] == "failed"
    assert done["error"].startswith("the import process ended without a result (exit code 1)")
    assert client.get(f"/api/datasets/{dataset}").json()["head_version"] is None


def test_a_small_input_is_imported_in_the_job_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below convert's size for helpers no process is started (it would cost more than it saves)."""
    monkeypatch.setattr(convert_module, "PARALLEL_MIN_BYTES", 16 << 20)
    monkeypatch.setattr(import_process, "__name__", "sftforge.studio.no_such_module")
    with _client(tmp_path / "home", 2) as client:
        done = import_rows(client, new_dataset(client), "data.jsonl", alpaca(5))
    assert done["status"] == "done" and done["imported"] == 5
