"""A job queue in SQLite that survives restarts: long work (imports, exports) runs here.

``JobQueue.submit(kind, params, user)`` stores a queued job; one worker thread runs jobs oldest
first through the handler registered for their kind (``register``). A job left ``running`` when
the process stopped is queued again at start-up (handlers are written to be re-run: they write
to temporary files and publish at the end). The page polls ``GET /api/jobs/{id}``.

Besides its fraction and one-line message, a job may report ``detail`` (a recipe run: each
stage's records done and expected, an LLM step's calls, failures, tokens and cost against its
budget), kept in table ``job_progress`` and shown as the job's ``detail``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import SftforgeError
from .errors import ApiError
from .store import Store, new_id, now_iso

__all__ = [
    "JOB_SELECT",
    "JobContext",
    "JobHandler",
    "JobQueue",
    "job_for",
    "job_view",
    "register",
]

log = logging.getLogger("sftforge.studio.jobs")


@dataclass
class JobContext:
    """What a handler gets: the store, the app's settings, the job's id and a progress call."""

    store: Store
    settings: Any
    job_id: str
    user: str

    def progress(
        self, fraction: float, message: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        """Record how far the job is; ``detail`` (plain JSON) replaces the last one when given."""
        at = now_iso()
        conn = self.store.conn()
        if detail is not None:  # before the fraction: a reader never sees a newer fraction
            conn.execute(  # with an older detail
                "INSERT OR REPLACE INTO job_progress(job_id, detail_json, updated_at)"
                " VALUES(?, ?, ?)",
                (self.job_id, orjson.dumps(detail).decode("utf-8"), at),
            )
        conn.execute(
            "UPDATE jobs SET progress=?, message=?, updated_at=? WHERE id=?",
            (max(0.0, min(1.0, fraction)), message, at, self.job_id),
        )


_PROGRESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_progress(
    job_id TEXT PRIMARY KEY REFERENCES jobs(id), detail_json TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""
# a job with its progress detail (NULL when it reported none)
JOB_SELECT = (
    "SELECT jobs.*, job_progress.detail_json FROM jobs"
    " LEFT JOIN job_progress ON job_progress.job_id = jobs.id"
)

JobHandler = Callable[[JobContext, dict[str, Any]], dict[str, Any]]
_HANDLERS: dict[str, JobHandler] = {}


def register(kind: str) -> Callable[[JobHandler], JobHandler]:
    """``@register("import")`` on ``def run(ctx, params) -> result``."""

    def wrap(fn: JobHandler) -> JobHandler:
        _HANDLERS[kind] = fn
        return fn

    return wrap


def job_view(row: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (params and result decoded)."""
    out = dict(row)
    out["params"] = orjson.loads(out.pop("params_json") or "{}")
    result = out.pop("result_json")
    out["result"] = orjson.loads(result) if result else None
    detail = out.pop("detail_json", None)
    out["detail"] = orjson.loads(detail) if detail else None
    return out


def _without_paths(value: Any) -> Any:
    """``value`` with every absolute server path cut to its last part (the file's name)."""
    if isinstance(value, str):
        return os.path.basename(value.rstrip("/\\")) if os.path.isabs(value) else value
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_paths(v) for v in value]
    return value


def job_for(job: dict[str, Any], name: str, admin: bool) -> dict[str, Any]:
    """A job (``job_view``) as user ``name`` may see it. Admins see everything. Others see
    every job's kind, status, progress and owner, but the params, result, message and progress
    detail only of their own jobs, and there with server paths cut to the file's name: a job's params hold
    staging and data-root paths and the sources people imported from."""
    if admin:
        return job
    if job["created_by"] != name:
        return {**job, "params": None, "result": None, "message": "", "detail": None,
                "hidden": True}  # fmt: skip
    return {
        **job,
        "params": _without_paths(job["params"]),
        "result": _without_paths(job["result"]),
        "detail": _without_paths(job.get("detail")),
    }


class JobQueue:
    """The queue and its one worker thread (``start``/``stop``)."""

    def __init__(self, store: Store, settings: Any) -> None:
        self.store = store
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        store.ensure_schema("job_progress", _PROGRESS_SCHEMA)

    def submit(
        self, kind: str, params: dict[str, Any], user: str, job_id: str | None = None
    ) -> str:
        if kind not in _HANDLERS:
            raise ApiError(400, "bad_request", f"unknown job kind '{kind}'")
        job_id = job_id or new_id("j")
        at = now_iso()
        self.store.conn().execute(
            "INSERT INTO jobs(id, kind, params_json, status, progress, message, result_json,"
            " created_by, created_at, updated_at) VALUES(?, ?, ?, 'queued', 0, '', NULL, ?, ?, ?)",
            (job_id, kind, orjson.dumps(params).decode("utf-8"), user, at, at),
        )
        self._wake.set()
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        return job_view(
            self.store.must(f"{JOB_SELECT} WHERE jobs.id=?", (job_id,), f"job {job_id}")
        )

    def requeue_interrupted(self) -> int:
        """Jobs a stopped process left ``running`` go back to the queue (their progress detail,
        of the run that stopped, goes)."""
        with self.store.tx() as conn:
            conn.execute(
                "DELETE FROM job_progress WHERE job_id IN"
                " (SELECT id FROM jobs WHERE status='running')"
            )
            cur = conn.execute(
                "UPDATE jobs SET status='queued', message='restarted', updated_at=? "
                "WHERE status='running'",
                (now_iso(),),
            )
        return cur.rowcount

    def start(self) -> None:
        self.requeue_interrupted()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="studio-jobs", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.store.close()

    def _claim(self) -> dict[str, Any] | None:
        with self.store.tx() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE status='queued' ORDER BY created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status='running', updated_at=? WHERE id=?", (now_iso(), row["id"])
            )
            return dict(row)

    def run_pending(self) -> int:
        """Run queued jobs in this thread until none is left (the worker's body; tests call it
        to run jobs without a thread)."""
        done = 0
        while not self._stop.is_set():
            row = self._claim()
            if row is None:
                return done
            self._run(row)
            done += 1
        return done

    def _run(self, row: dict[str, Any]) -> None:
        ctx = JobContext(self.store, self.settings, row["id"], row["created_by"])
        params = orjson.loads(row["params_json"])
        handler = _HANDLERS.get(row["kind"])
        try:
            if handler is None:
                raise ApiError(400, "bad_request", f"unknown job kind '{row['kind']}'")
            result = handler(ctx, params)
        except (SftforgeError, ApiError) as err:
            self._finish(
                row["id"],
                "failed",
                str(err) if isinstance(err, SftforgeError) else err.message,
                None,
            )
        except Exception as err:  # a bug: logged with its traceback, one line for the page
            log.exception("job %s (%s) failed", row["id"], row["kind"])
            self._finish(row["id"], "failed", f"internal error: {type(err).__name__}: {err}", None)
        else:
            self._finish(row["id"], "done", "", result)

    def _finish(
        self, job_id: str, status: str, message: str, result: dict[str, Any] | None
    ) -> None:
        self.store.conn().execute(
            "UPDATE jobs SET status=?, progress=CASE WHEN ?='done' THEN 1 ELSE progress END,"
            " message=?, result_json=?, updated_at=? WHERE id=?",
            (
                status,
                status,
                message,
                orjson.dumps(result).decode("utf-8") if result is not None else None,
                now_iso(),
                job_id,
            ),
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:  # the queue must keep running whatever one job did
                log.exception("job worker error")
