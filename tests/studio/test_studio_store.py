"""The SQLite store: migrations run once, other modules' tables through ensure_schema, and
versions' paths kept relative to the home so the home can move."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sftforge.studio.store import Store


def test_migrations_set_user_version_and_run_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    version = store.conn().execute("PRAGMA user_version").fetchone()[0]
    assert version >= 1
    assert store.conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.create_project("p", "local")
    store.close()
    again = Store(tmp_path)  # opening again changes nothing
    assert again.conn().execute("PRAGMA user_version").fetchone()[0] == version
    assert [p["name"] for p in again.all("SELECT name FROM projects")] == ["p"]


def test_ensure_schema_creates_once_and_reruns_a_changed_ddl(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ddl = "CREATE TABLE IF NOT EXISTS queues(id TEXT PRIMARY KEY, name TEXT);"
    store.ensure_schema("reviews", ddl)
    store.conn().execute("INSERT INTO queues VALUES('q1', 'first')")
    store.ensure_schema("reviews", ddl)  # same ddl: nothing happens, rows stay
    assert store.one("SELECT name FROM queues WHERE id='q1'") == {"name": "first"}
    grown = ddl + "\nCREATE TABLE IF NOT EXISTS queue_items(queue_id TEXT, row_id TEXT);"
    store.ensure_schema("reviews", grown)
    store.conn().execute("INSERT INTO queue_items VALUES('q1', 'r1')")
    assert store.one("SELECT ddl FROM schema_parts WHERE name='reviews'") == {"ddl": grown}


def test_version_paths_follow_a_moved_home(tmp_path: Path) -> None:
    store = Store(tmp_path / "a")
    project = store.create_project("p", "local")
    dataset = store.create_dataset(project["id"], "d")
    (tmp_path / "a" / "versions").mkdir()
    (tmp_path / "a" / "versions" / "v1.parquet").write_bytes(b"x")
    with store.tx() as conn:
        store.add_version(conn, version_id="v1", dataset_id=dataset["id"], parent_id=None,
                          kind="import", message="", user="local", rows=1,
                          path=str(tmp_path / "a" / "versions" / "v1.parquet"))  # fmt: skip
    store.close()
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = Store(tmp_path / "b")
    assert moved.version("v1")["path"] == str(tmp_path / "b" / "versions" / "v1.parquet")
    raw = sqlite3.connect(tmp_path / "b" / "studio.sqlite3").execute("SELECT path FROM versions")
    assert raw.fetchone()[0] == "versions/v1.parquet"
