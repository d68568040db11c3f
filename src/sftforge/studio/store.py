"""``Store``: the studio's metadata in one SQLite file (WAL), one connection per thread.

The core tables are created here by ``user_version`` migrations; other studio modules add their
own tables with ``ensure_schema(name, ddl)`` (kept in their module, so this file stays small).
Writes that check-then-change (an edit's revision) run in ``tx()``: ``BEGIN IMMEDIATE`` takes
the write lock first, so two requests cannot both pass the check.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ApiError

__all__ = ["Store", "new_id", "now_iso"]

DB_NAME = "studio.sqlite3"

# migration n (1-based) brings user_version from n-1 to n; append, never edit
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE projects(
        id TEXT PRIMARY KEY, name TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE datasets(
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL, head_version TEXT, created_at TEXT NOT NULL
    );
    CREATE TABLE versions(
        id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL REFERENCES datasets(id), parent_id TEXT,
        kind TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL,
        created_at TEXT NOT NULL, rows INTEGER NOT NULL, path TEXT NOT NULL
    );
    CREATE TABLE tags(
        dataset_id TEXT NOT NULL REFERENCES datasets(id), name TEXT NOT NULL,
        version_id TEXT NOT NULL REFERENCES versions(id), PRIMARY KEY(dataset_id, name)
    );
    CREATE TABLE imports(
        id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL REFERENCES datasets(id), version_id TEXT,
        source_json TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 0,
        imported INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,
        rejects_path TEXT, status TEXT NOT NULL, error TEXT, created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE edits(
        id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id TEXT NOT NULL REFERENCES datasets(id),
        base_version TEXT NOT NULL, row_id TEXT NOT NULL, revision INTEGER NOT NULL,
        kind TEXT NOT NULL, before_json TEXT, after_json TEXT NOT NULL, user TEXT NOT NULL,
        at TEXT NOT NULL, undone_by INTEGER, committed_in TEXT
    );
    CREATE INDEX edits_open ON edits(dataset_id, base_version, committed_in, row_id);
    CREATE TABLE jobs(
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, params_json TEXT NOT NULL,
        status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
        result_json TEXT, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs(status, created_at);
    CREATE TABLE schema_parts(name TEXT PRIMARY KEY, ddl TEXT NOT NULL);
    """,
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id(prefix: str) -> str:
    """``p_1a2b3c4d5e6f``: short, unguessable, says what it names."""
    return f"{prefix}_{secrets.token_hex(6)}"


class Store:
    """The studio's SQLite database under ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / DB_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self._migrate()

    # -- connections ------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; ``tx()`` for transactions)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        conn = self.conn()
        with self._lock:
            have = conn.execute("PRAGMA user_version").fetchone()[0]
            for n, ddl in enumerate(_MIGRATIONS[have:], start=have + 1):
                conn.executescript(f"BEGIN IMMEDIATE;\n{ddl}\nPRAGMA user_version={n};\nCOMMIT;")

    def ensure_schema(self, name: str, ddl: str) -> None:
        """Create another module's tables once (``ddl`` uses ``CREATE ... IF NOT EXISTS``); a
        changed ``ddl`` for ``name`` is run again, so it may add tables and indexes."""
        conn = self.conn()
        with self._lock:
            row = conn.execute("SELECT ddl FROM schema_parts WHERE name=?", (name,)).fetchone()
            if row is not None and row["ddl"] == ddl:
                return
            conn.executescript(f"BEGIN IMMEDIATE;\n{ddl}\nCOMMIT;")
            conn.execute("INSERT OR REPLACE INTO schema_parts(name, ddl) VALUES(?, ?)", (name, ddl))

    # -- small typed helpers ----------------------------------------------------------------
    def one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        row = self.conn().execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn().execute(sql, args).fetchall()]

    def must(self, sql: str, args: tuple[Any, ...], what: str) -> dict[str, Any]:
        """The one row ``sql`` finds, or a 404 naming ``what``."""
        row = self.one(sql, args)
        if row is None:
            raise ApiError(404, "not_found", f"no {what}")
        return row

    # projects ------------------------------------------------------------------------------
    def create_project(self, name: str, user: str) -> dict[str, Any]:
        row = {"id": new_id("p"), "name": name, "created_by": user, "created_at": now_iso()}
        self.conn().execute(
            "INSERT INTO projects(id, name, created_by, created_at) VALUES(:id, :name, "
            ":created_by, :created_at)",
            row,
        )
        return row

    def project(self, project_id: str) -> dict[str, Any]:
        return self.must(
            "SELECT * FROM projects WHERE id=?", (project_id,), f"project {project_id}"
        )

    # datasets ------------------------------------------------------------------------------
    def create_dataset(self, project_id: str, name: str) -> dict[str, Any]:
        self.project(project_id)
        row = {
            "id": new_id("d"),
            "project_id": project_id,
            "name": name,
            "head_version": None,
            "created_at": now_iso(),
        }
        self.conn().execute(
            "INSERT INTO datasets(id, project_id, name, head_version, created_at) "
            "VALUES(:id, :project_id, :name, :head_version, :created_at)",
            row,
        )
        return row

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self.must(
            "SELECT * FROM datasets WHERE id=?", (dataset_id,), f"dataset {dataset_id}"
        )

    # versions ------------------------------------------------------------------------------
    def add_version(
        self,
        conn: sqlite3.Connection,
        *,
        version_id: str,
        dataset_id: str,
        parent_id: str | None,
        kind: str,
        message: str,
        user: str,
        rows: int,
        path: str,
    ) -> dict[str, Any]:
        """Record a written version and make it the dataset's head (inside the caller's tx).
        The same content on the same parent is the same version: recorded once. ``path`` is
        relative to the home (absolute paths inside it are made relative)."""
        if Path(path).is_absolute():
            path = str(Path(path).relative_to(self.home))
        row = {
            "id": version_id,
            "dataset_id": dataset_id,
            "parent_id": parent_id,
            "kind": kind,
            "message": message,
            "created_by": user,
            "created_at": now_iso(),
            "rows": rows,
            "path": path,
        }
        conn.execute(
            "INSERT OR IGNORE INTO versions(id, dataset_id, parent_id, kind, message, created_by,"
            " created_at, rows, path) VALUES(:id, :dataset_id, :parent_id, :kind, :message,"
            " :created_by, :created_at, :rows, :path)",
            row,
        )
        conn.execute("UPDATE datasets SET head_version=? WHERE id=?", (version_id, dataset_id))
        out = dict(conn.execute("SELECT * FROM versions WHERE id=?", (version_id,)).fetchone())
        out["path"] = str(self.home / out["path"])
        return out

    def version(self, version_id: str, dataset_id: str | None = None) -> dict[str, Any]:
        row = self.must("SELECT * FROM versions WHERE id=?", (version_id,), f"version {version_id}")
        row["path"] = str(self.home / row["path"])  # stored relative: the home may move
        if dataset_id is not None and row["dataset_id"] != dataset_id:
            raise ApiError(404, "not_found", f"no version {version_id} in dataset {dataset_id}")
        return row
