"""Edits: an attributed, undoable overlay log on a dataset's head version.

Every change to a row is one ``edits`` entry holding the row's whole state before and after
(``sample`` JSON and the review state: tags, status, reason, human_verified, score; or
``deleted``), who made it and when. A row's *revision* is the id of its newest entry (0 when it
was never edited); a change names the revision it was based on and is refused with 409 when the
row moved on since (no lost update): the check and the insert run in one ``BEGIN IMMEDIATE``
transaction. ``undo`` appends an ``undo`` entry that restores the state before the undone one.
``commit`` writes the head with the open edits applied as a new version (lineage ``edited_by``/
``edited_at`` set on each changed row); edits made while it writes stay open for the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SftforgeError
from ..sample import Sample, validate_sample
from .browse import find_row, view_of
from .errors import ApiError
from .jobs import JobContext, JobQueue, register
from .review_policy import keep_suggestion_json
from .store import Store, now_iso
from .versions import (
    STATE_FIELDS,
    VersionWriter,
    derive_columns,
    iter_batches,
    read_rows,
)

__all__ = [
    "COMMIT_INLINE_ROWS",
    "STATUSES",
    "apply_edit",
    "base_row",
    "checked_sample",
    "commit",
    "current_row",
    "edit_view",
    "open_edits",
    "overlay",
    "request_commit",
    "undo",
    "version_row",
]

STATUSES = ("", "accepted", "rejected", "flagged")
# a head with more rows than this is committed by a job: rewriting a 1M-row version takes
# ~16 s on a 2-core machine, too long to hold a request; smaller ones commit in the request
COMMIT_INLINE_ROWS = 100_000
_KINDS = ("sample", "status", "delete", "undo")


def edit_view(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["before"] = orjson.loads(out.pop("before_json")) if row["before_json"] else None
    out["after"] = orjson.loads(out.pop("after_json"))
    return out


def _head(store: Store, dataset_id: str) -> dict[str, Any]:
    dataset = store.dataset(dataset_id)
    if dataset["head_version"] is None:
        raise ApiError(409, "conflict", f"dataset {dataset_id} has no version yet",
                       hint="import data first")  # fmt: skip
    return store.version(dataset["head_version"])


def base_row(version_path: str | Path, row_id: str) -> dict[str, Any] | None:
    """The whole row ``row_id`` of a version (with ``sample``), or None."""
    index = find_row(view_of(version_path), row_id)
    if index is None:
        return None
    row = read_rows(version_path, [index])[0]
    row["index"] = index
    return row


def _state(row: dict[str, Any]) -> dict[str, Any]:
    state = {"sample": row["sample"], **{k: row[k] for k in STATE_FIELDS}}
    state["deleted"] = False
    return state


def _revision(conn: sqlite3.Connection, dataset_id: str, row_id: str) -> int:
    got = conn.execute(
        "SELECT MAX(id) FROM edits WHERE dataset_id=? AND row_id=?", (dataset_id, row_id)
    ).fetchone()[0]
    return int(got or 0)


def _effective(conn: sqlite3.Connection, dataset_id: str, row_id: str) -> sqlite3.Row | None:
    """The newest open, not undone, non-undo entry of the row: its overlay state."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM edits WHERE dataset_id=? AND row_id=? AND committed_in IS NULL "
        "AND undone_by IS NULL AND kind!='undo' ORDER BY id DESC LIMIT 1",
        (dataset_id, row_id),
    ).fetchone()
    return row


def current_row(store: Store, dataset_id: str, row_id: str) -> dict[str, Any]:
    """Row ``row_id`` of the head as the overlay shows it: ``{"row", "revision", "edited"}``;
    ``row`` has ``sample`` (decoded), the review state and derived columns of the edited state."""
    head = _head(store, dataset_id)
    conn = store.conn()
    base = base_row(head["path"], row_id)
    if base is None:
        raise ApiError(404, "not_found", f"no row '{row_id}' in dataset {dataset_id}")
    revision = _revision(conn, dataset_id, row_id)
    eff = _effective(conn, dataset_id, row_id)
    row = _with_state(base, orjson.loads(eff["after_json"]), eff) if eff is not None else base
    row.pop("search", None)
    out_row = {**row, "sample": orjson.loads(row["sample"])}
    return {"row": out_row, "revision": revision, "edited": eff is not None,
            "version_id": head["id"], "read_only": False}  # fmt: skip


def version_row(
    store: Store, dataset_id: str, version: dict[str, Any], row_id: str
) -> dict[str, Any]:
    """Row ``row_id`` as version ``version`` holds it. The head's row is the overlay's
    (``current_row``: editable); an older version's is read-only (``read_only: true``, no
    ``revision``): edits apply to the head only, and an old version never changes."""
    if store.dataset(dataset_id)["head_version"] == version["id"]:
        return current_row(store, dataset_id, row_id)
    base = base_row(version["path"], row_id)
    if base is None:
        raise ApiError(404, "not_found", f"no row '{row_id}' in version {version['id']}")
    base.pop("search", None)
    out_row = {**base, "sample": orjson.loads(base["sample"])}
    return {"row": out_row, "revision": None, "edited": False, "version_id": version["id"],
            "read_only": True}  # fmt: skip


def _with_state(base: dict[str, Any], state: dict[str, Any], entry: Any) -> dict[str, Any]:
    """``base`` with an edit's state applied: sample, review state, derived columns, lineage."""
    row = dict(base)
    row["deleted"] = bool(state.get("deleted"))
    row["sample"] = state["sample"]
    for k in STATE_FIELDS:
        row[k] = state[k]
    row.update(derive_columns(Sample.from_json(state["sample"])))
    row["edited_by"] = entry["user"]
    row["edited_at"] = entry["at"]
    return row


def checked_sample(value: Any) -> str:
    """A Sample from the request (its dict form), checked like a read record; its JSON."""
    if not isinstance(value, dict):
        raise ApiError(422, "invalid", "sample must be an object with 'messages'", "sample")
    try:
        sample = Sample.from_dict(value)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ApiError(422, "invalid", f"not a sample: {err!r}", "sample",
                       "send the sample as GET returned it, with 'messages' of role and content") from None  # fmt: skip
    problems = validate_sample(sample)
    if problems:
        raise ApiError(422, "invalid", "; ".join(problems), "sample")
    return sample.to_json().decode("utf-8")


def apply_edit(
    store: Store,
    dataset_id: str,
    row_id: str,
    *,
    base_revision: int,
    user: str,
    sample: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    delete: bool = False,
    conn: sqlite3.Connection | None = None,
) -> dict[str, Any]:
    """Change row ``row_id``: a new ``sample``, review ``changes`` (status, reason,
    human_verified, tags, score) or ``delete``. ``base_revision`` is the revision the change was
    made on; when the row has a newer one, 409 ``conflict``. Returns the entry (its ``id`` is the
    row's new revision).

    ``conn``: a connection inside the caller's open transaction (``store.tx()``): the edit is
    then written in it and commits or rolls back with the caller's other writes (a review
    decision and its queue update are one transaction). Without it the edit is its own."""
    if sum(x is not None and x is not False for x in (sample, changes, delete)) != 1:
        raise ApiError(422, "invalid", "give exactly one of: sample, a review change, delete")
    new_sample = checked_sample(sample) if sample is not None else None
    changes = _checked_changes(changes) if changes is not None else None
    head = _head(store, dataset_id)
    base = base_row(head["path"], row_id)  # immutable version: read before taking the lock
    if base is None:
        raise ApiError(404, "not_found", f"no row '{row_id}' in dataset {dataset_id}")
    with _transaction(store, conn) as conn:
        revision = _revision(conn, dataset_id, row_id)
        if revision != base_revision:
            raise ApiError(
                409,
                "conflict",
                f"row '{row_id}' changed since revision {base_revision} (now {revision})",
                "base_revision",
                "reload the row and make the change again",
            )
        head_now = conn.execute("SELECT head_version FROM datasets WHERE id=?", (dataset_id,))
        if head_now.fetchone()[0] != head["id"]:
            raise ApiError(409, "conflict", f"dataset {dataset_id} got a new version meanwhile",
                           hint="reload the row and make the change again")  # fmt: skip
        eff = _effective(conn, dataset_id, row_id)
        before = orjson.loads(eff["after_json"]) if eff is not None else _state(base)
        if before.get("deleted"):
            raise ApiError(
                409, "conflict", f"row '{row_id}' is deleted", hint="undo the delete first"
            )
        after = dict(before)
        if new_sample is not None:
            kind = "sample"
            # an LLM answer a person changes keeps the model's beside it (review_policy)
            after["sample"] = keep_suggestion_json(before["sample"], new_sample, base.get("model"))
        elif changes is not None:
            kind = "status"
            after.update(changes)
        else:
            kind = "delete"
            after["deleted"] = True
        cur = conn.execute(
            "INSERT INTO edits(dataset_id, base_version, row_id, revision, kind, before_json,"
            " after_json, user, at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset_id, head["id"], row_id, base_revision, kind,
             orjson.dumps(before).decode("utf-8"), orjson.dumps(after).decode("utf-8"),
             user, now_iso()),
        )  # fmt: skip
        entry = conn.execute("SELECT * FROM edits WHERE id=?", (cur.lastrowid,)).fetchone()
    return edit_view(dict(entry))


@contextmanager
def _transaction(store: Store, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
    """The caller's open transaction when given, else a new one of our own."""
    if conn is None:
        with store.tx() as own:
            yield own
    else:
        if not conn.in_transaction:
            raise RuntimeError("apply_edit(conn=...) needs the caller's open store.tx()")
        yield conn


def _checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in STATE_FIELDS:
            raise ApiError(422, "invalid", f"'{key}' is not a review field", key,
                           f"use: {', '.join(STATE_FIELDS)}")  # fmt: skip
        if key == "status" and value not in STATUSES:
            raise ApiError(422, "invalid", f"unknown status '{value}'", key,
                           "use accepted, rejected, flagged or '' (none)")  # fmt: skip
        if key == "human_verified" and not isinstance(value, bool):
            raise ApiError(422, "invalid", "human_verified is true or false", key)
        if key == "tags" and (
            not isinstance(value, list) or not all(isinstance(t, str) and t for t in value)
        ):
            raise ApiError(422, "invalid", "tags is a list of non-empty strings", key)
        if (
            key == "score"
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int | float))
        ):
            raise ApiError(422, "invalid", "score is a number or null", key)
        if key == "reason" and value is not None and not isinstance(value, str):
            raise ApiError(422, "invalid", "reason is text or null", key)
        out[key] = float(value) if key == "score" and value is not None else value
    if not out:
        raise ApiError(422, "invalid", "no review field to change")
    return out


def undo(
    store: Store,
    dataset_id: str,
    edit_id: int,
    user: str,
    *,
    conn: sqlite3.Connection | None = None,
) -> dict[str, Any]:
    """Undo open edit ``edit_id``: the row goes back to its state before it. Only a row's newest
    effective edit can be undone (else 409: undo the later ones first). ``conn``: the caller's
    open transaction, as for ``apply_edit``."""
    store.dataset(dataset_id)
    with _transaction(store, conn) as conn:
        entry = conn.execute(
            "SELECT * FROM edits WHERE id=? AND dataset_id=?", (edit_id, dataset_id)
        ).fetchone()
        if entry is None:
            raise ApiError(404, "not_found", f"no edit {edit_id} in dataset {dataset_id}")
        if entry["kind"] == "undo":
            raise ApiError(409, "conflict", f"edit {edit_id} is itself an undo")
        if entry["undone_by"] is not None:
            raise ApiError(409, "conflict", f"edit {edit_id} is already undone")
        if entry["committed_in"] is not None:
            raise ApiError(409, "conflict", f"edit {edit_id} is committed in version "
                           f"{entry['committed_in']}", hint="roll back to an earlier version")  # fmt: skip
        eff = _effective(conn, dataset_id, entry["row_id"])
        if eff is None or eff["id"] != edit_id:
            raise ApiError(409, "conflict", f"row '{entry['row_id']}' has a later edit",
                           hint="undo the later edits first")  # fmt: skip
        revision = _revision(conn, dataset_id, entry["row_id"])
        cur = conn.execute(
            "INSERT INTO edits(dataset_id, base_version, row_id, revision, kind, before_json,"
            " after_json, user, at) VALUES(?, ?, ?, ?, 'undo', ?, ?, ?, ?)",
            (dataset_id, entry["base_version"], entry["row_id"], revision,
             entry["after_json"], entry["before_json"], user, now_iso()),
        )  # fmt: skip
        conn.execute("UPDATE edits SET undone_by=? WHERE id=?", (cur.lastrowid, edit_id))
        new = conn.execute("SELECT * FROM edits WHERE id=?", (cur.lastrowid,)).fetchone()
    return edit_view(dict(new))


def open_edits(store: Store, dataset_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The dataset's edits not yet committed, newest first."""
    store.dataset(dataset_id)
    rows = store.all(
        "SELECT * FROM edits WHERE dataset_id=? AND committed_in IS NULL ORDER BY id DESC LIMIT ?",
        (dataset_id, limit),
    )
    return [edit_view(r) for r in rows]


def overlay(store: Store, dataset_id: str, row_ids: list[str]) -> dict[str, dict[str, Any]]:
    """For the page: each of ``row_ids`` that has an open effective edit -> {state, user, at,
    revision}."""
    if not row_ids:
        return {}
    marks = ",".join("?" * len(row_ids))
    rows = store.all(
        f"SELECT * FROM edits WHERE dataset_id=? AND row_id IN ({marks}) AND committed_in IS NULL"
        " AND undone_by IS NULL AND kind!='undo' ORDER BY id",
        (dataset_id, *row_ids),
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:  # ascending: the newest wins
        out[r["row_id"]] = {
            "state": orjson.loads(r["after_json"]),
            "user": r["user"],
            "at": r["at"],
        }
    return out


def _effective_all(conn: sqlite3.Connection, dataset_id: str, upto: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT * FROM edits WHERE dataset_id=? AND committed_in IS NULL AND id<=? "
        "AND undone_by IS NULL AND kind!='undo' ORDER BY id",
        (dataset_id, upto),
    ).fetchall()
    return {r["row_id"]: r for r in rows}


def commit(store: Store, dataset_id: str, user: str, message: str = "") -> dict[str, Any]:
    """Write the head with its open edits applied as a new version and make it the head."""
    for _attempt in range(3):
        head = _head(store, dataset_id)
        conn = store.conn()
        upto = int(
            conn.execute(
                "SELECT COALESCE(MAX(id), 0) FROM edits WHERE dataset_id=? AND committed_in IS NULL",
                (dataset_id,),
            ).fetchone()[0]
        )
        effective = _effective_all(conn, dataset_id, upto)
        if upto == 0:
            raise ApiError(409, "conflict", f"dataset {dataset_id} has no open edits to commit")
        folder = Path(head["path"]).parent
        writer = VersionWriter(folder, head["id"], dataset_id=dataset_id)
        try:
            changed = 0
            edited = pa.array(list(effective), pa.string())
            for batch in iter_batches(head["path"]):
                if not pc.any(pc.is_in(batch.column("row_id"), value_set=edited)).as_py():
                    writer.add_batch(batch)  # untouched rows stay Arrow data
                    continue
                for row in batch.to_pylist():
                    entry = effective.get(row["row_id"])
                    if entry is not None:
                        state = orjson.loads(entry["after_json"])
                        changed += 1
                        if state.get("deleted"):
                            continue
                        row = _with_state(row, state, entry)
                        row.pop("deleted", None)
                    writer.add(row)
            version_id, path, rows = writer.finish()
        except (SftforgeError, OSError):
            writer.abort()
            raise
        with store.tx() as conn:
            moved = conn.execute(
                "SELECT head_version FROM datasets WHERE id=?", (dataset_id,)
            ).fetchone()[0]
            late_undo = conn.execute(
                "SELECT 1 FROM edits WHERE dataset_id=? AND id<=? AND committed_in IS NULL "
                "AND undone_by>? LIMIT 1",
                (dataset_id, upto, upto),
            ).fetchone()
            if moved != head["id"] or late_undo is not None:
                continue  # something changed under the write: write again
            version = store.add_version(
                conn, version_id=version_id, dataset_id=dataset_id, parent_id=head["id"],
                kind="edit", message=message or f"{changed} edited rows", user=user, rows=rows,
                path=str(path),
            )  # fmt: skip
            conn.execute(
                "UPDATE edits SET committed_in=? WHERE dataset_id=? AND id<=? "
                "AND committed_in IS NULL",
                (version_id, dataset_id, upto),
            )
        version["changed_rows"] = changed
        return version
    raise ApiError(409, "conflict", "the dataset kept changing while committing; try again")


def _has_open_edits(store: Store, dataset_id: str) -> bool:
    return (
        store.one(
            "SELECT 1 AS x FROM edits WHERE dataset_id=? AND committed_in IS NULL LIMIT 1",
            (dataset_id,),
        )
        is not None
    )


def request_commit(
    store: Store, queue: JobQueue, dataset_id: str, user: str, message: str = ""
) -> tuple[bool, dict[str, Any]]:
    """Commit now when the head is small (``(True, version)``), else queue a ``commit`` job
    (``(False, job)``: the page polls ``/api/jobs/{id}``; its result is the version). Having no
    open edits is refused at once either way (409)."""
    head = _head(store, dataset_id)
    if not _has_open_edits(store, dataset_id):
        raise ApiError(409, "conflict", f"dataset {dataset_id} has no open edits to commit")
    if int(head["rows"] or 0) <= COMMIT_INLINE_ROWS:
        return True, commit(store, dataset_id, user, message)
    job_id = queue.submit("commit", {"dataset_id": dataset_id, "message": message}, user)
    return False, queue.get(job_id)


@register("commit")
def _run_commit(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.progress(0.0, "writing the new version")
    # edits made after the request are committed too: the job writes what is open when it runs
    return commit(ctx.store, params["dataset_id"], ctx.user, params.get("message") or "")
