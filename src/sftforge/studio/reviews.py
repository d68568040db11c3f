"""Review queues: rows chosen by a browse filter, handed to people, decided one by one.

A queue is built on one version from a browse filter (``browse.py`` is the one filter: a preset
such as ``llm`` = ``model:notnull`` or ``flagged`` = ``status:eq:flagged``, any ``column:op:value``
filters and a search text), optionally a seeded random ``percent`` of the matches
(``review_select``). Each row becomes an item with one slot per reviewer (two for double
review), assigned in rotation. A reviewer's decision on an item (accept, reject with a reason,
flag, verify = accept and ``human_verified``, or edit the conversation) is an edit through
``edits.py`` (the one edit path: attributed, undoable, and a stale ``base_revision`` is a 409),
recorded in ``review_decisions`` so it can be undone from the queue and so agreement between the
two reviewers of an item can be measured (``review_agreement``). Double review is blind: the
first reviewer's decisions on an item (verdict and conversation edits) are kept in the queue
only, and the row is changed once both reviewers decided, by replaying both reviewers' decisions
in the order they were made, each as its reviewer's edit; until then neither sees the other's
work (the row, its history, the browse page and the queue's item list show none of it). When the
two disagree, the second decision flags the row (reason: who decided what) for someone to
settle, instead of overwriting the first. An edit of an LLM answer keeps
the model's answer beside the human one (``edits.apply_edit`` calls
``review_policy.keep_suggestion_json`` on every sample edit, in a queue or in the record view).

Tables (created with ``store.ensure_schema``): ``queues``, ``queue_items`` (one row per item and
slot: row id, position in the queue, reviewer, status ``pending`` / ``accepted`` / ``rejected`` /
``flagged``, reason, whether it was edited or verified), ``review_decisions`` (the log) and
``review_counts`` (per person: assigned, pending, accepted, ..., and the items done, kept in the
same transaction as each item change, so progress and the next item stay fast on a queue of a
million items).
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import orjson

from ..sample import Sample
from . import browse, edits
from .errors import ApiError
from .jobs import JobContext, JobQueue, register
from .review_agreement import agreement
from .review_policy import SUGGESTION_KEY, is_llm_answered
from .review_select import assign, sample_ids
from .store import Store, new_id, now_iso

__all__ = [
    "ACTIONS",
    "PRESETS",
    "QUEUE_INLINE_ROWS",
    "create_queue",
    "decide",
    "delete_queue",
    "ensure_schema",
    "item_view",
    "list_items",
    "list_queues",
    "queue",
    "queue_agreement",
    "queue_progress",
    "request_queue",
    "step",
    "undo_last",
]

# what a queue can be built from besides explicit filters
PRESETS: dict[str, tuple[str, ...]] = {
    "all": (),
    "llm": ("model:notnull",),  # rows an LLM answered
    "flagged": ("status:eq:flagged",),  # rows a filter or a person flagged
    "rejected": ("status:eq:rejected",),
    "unverified": ("human_verified:eq:false",),
}
ACTIONS = ("accept", "reject", "flag", "verify", "edit")
# a queue over a version with more rows than this is built by a job: selecting and writing the
# items of a 1M-row version takes seconds on a 2-core machine, too long to hold a request
QUEUE_INLINE_ROWS = 100_000
# the per-person status each action leaves on the item
_STATUS = {"accept": "accepted", "verify": "accepted", "reject": "rejected", "flag": "flagged"}

_DDL = """
CREATE TABLE IF NOT EXISTS queues(
    id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, version_id TEXT NOT NULL, name TEXT NOT NULL,
    selection_json TEXT NOT NULL, reviewers_json TEXT NOT NULL, per_item INTEGER NOT NULL,
    items INTEGER NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queues_dataset ON queues(dataset_id, created_at);
CREATE TABLE IF NOT EXISTS queue_items(
    queue_id TEXT NOT NULL, row_id TEXT NOT NULL, slot INTEGER NOT NULL,
    position INTEGER NOT NULL, reviewer TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', reason TEXT,
    edited INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL DEFAULT 0, decided_at TEXT,
    PRIMARY KEY(queue_id, row_id, slot)
);
CREATE INDEX IF NOT EXISTS queue_items_person ON queue_items(queue_id, reviewer, position);
CREATE TABLE IF NOT EXISTS review_decisions(
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue_id TEXT NOT NULL, row_id TEXT NOT NULL,
    slot INTEGER NOT NULL, reviewer TEXT NOT NULL, action TEXT NOT NULL, reason TEXT,
    edit_ids_json TEXT NOT NULL, before_json TEXT NOT NULL, at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS review_decisions_person ON review_decisions(queue_id, reviewer, id);
CREATE TABLE IF NOT EXISTS review_drafts(
    decision_id INTEGER PRIMARY KEY, sample_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_counts(
    queue_id TEXT NOT NULL, reviewer TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY(queue_id, reviewer, key)
);
"""
_ITEM_STATE = ("status", "reason", "edited", "verified", "decided_at")


def ensure_schema(store: Store) -> None:
    store.ensure_schema("reviews", _DDL)


# -- queues ------------------------------------------------------------------------------------
def create_queue(
    store: Store,
    dataset_id: str,
    *,
    user: str,
    name: str,
    version_id: str | None = None,
    preset: str | None = None,
    q: str | None = None,
    filters: list[str] | None = None,
    percent: float | None = None,
    seed: int = 0,
    reviewers: list[str] | None = None,
    per_item: int = 1,
    queue_id: str | None = None,
) -> dict[str, Any]:
    """Build a queue from a browse filter over ``version_id`` (the head by default).
    ``queue_id`` (a job's): when that queue exists already (the job ran before a restart), it
    is the answer, so a re-run builds nothing twice."""
    ensure_schema(store)
    if queue_id is not None and store.one("SELECT 1 AS x FROM queues WHERE id=?", (queue_id,)):
        return queue(store, queue_id)
    dataset = store.dataset(dataset_id)
    version_id = version_id or dataset["head_version"]
    if version_id is None:
        raise ApiError(409, "conflict", f"dataset {dataset_id} has no version yet",
                       hint="import data first")  # fmt: skip
    version = store.version(version_id, dataset_id)
    if preset is not None and preset not in PRESETS:
        raise ApiError(422, "invalid", f"unknown queue preset '{preset}'", "preset",
                       f"use one of: {', '.join(PRESETS)}")  # fmt: skip
    texts = [*PRESETS.get(preset or "all", ()), *(filters or [])]
    parsed = [browse.parse_filter(t) for t in texts]
    view = browse.view_of(version["path"])
    mask = browse.selection(view, q, parsed)
    indices = np.arange(view.rows) if mask is None else np.flatnonzero(mask)
    row_ids: list[str] = view.table["row_id"].take(indices).to_pylist()
    if percent is not None:
        row_ids = sample_ids(row_ids, percent, seed)
    if not row_ids:
        raise ApiError(422, "invalid", "the queue's filter matches no rows of the version",
                       "filter", "widen the filter or pick another version")  # fmt: skip
    people = reviewers or [user]
    slots = assign(len(row_ids), people, per_item)
    selection = {"preset": preset, "q": q, "filters": list(filters or []),
                 "percent": percent, "seed": seed}  # fmt: skip
    queue_id = queue_id or new_id("q")
    row = {
        "id": queue_id,
        "dataset_id": dataset_id,
        "version_id": version_id,
        "name": name.strip() or "review",
        "selection_json": _json(selection),
        "reviewers_json": _json(list(dict.fromkeys(p.strip() for p in people if p.strip()))),
        "per_item": per_item,
        "items": len(row_ids),
        "created_by": user,
        "created_at": now_iso(),
    }
    with store.tx() as conn:
        conn.execute(
            "INSERT INTO queues(id, dataset_id, version_id, name, selection_json, reviewers_json,"
            " per_item, items, created_by, created_at) VALUES(:id, :dataset_id, :version_id,"
            " :name, :selection_json, :reviewers_json, :per_item, :items, :created_by,"
            " :created_at)",
            row,
        )
        conn.executemany(
            "INSERT INTO queue_items(queue_id, row_id, slot, position, reviewer) "
            "VALUES(?, ?, ?, ?, ?)",
            (
                (queue_id, rid, slot, pos, person)
                for pos, (rid, people_of) in enumerate(zip(row_ids, slots, strict=True))
                for slot, person in enumerate(people_of)
            ),
        )
        load = Counter(person for people_of in slots for person in people_of)
        for person, n in load.items():
            _bump(conn, queue_id, person, {"assigned": n, "pending": n})
    return queue(store, queue_id)


def request_queue(
    store: Store, jobs: JobQueue, dataset_id: str, *, user: str, **options: Any
) -> tuple[bool, dict[str, Any]]:
    """Build the queue now when its version is small (``(True, queue)``), else check the
    options and queue a ``review_queue`` job that builds it (``(False, job)``; the page polls
    ``/api/jobs/{id}``, whose result is the queue). ``options``: those of ``create_queue``."""
    ensure_schema(store)
    dataset = store.dataset(dataset_id)
    version_id = options.get("version_id") or dataset["head_version"]
    if version_id is None:
        raise ApiError(409, "conflict", f"dataset {dataset_id} has no version yet",
                       hint="import data first")  # fmt: skip
    version = store.version(version_id, dataset_id)
    if int(version["rows"] or 0) <= QUEUE_INLINE_ROWS:
        return True, create_queue(store, dataset_id, user=user, **options)
    # what can be refused without reading the version is refused now, not by a failed job
    preset = options.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ApiError(422, "invalid", f"unknown queue preset '{preset}'", "preset",
                       f"use one of: {', '.join(PRESETS)}")  # fmt: skip
    for text in options.get("filters") or ():
        browse.parse_filter(text)
    if options.get("percent") is not None:
        sample_ids([], options["percent"], options.get("seed", 0))
    assign(0, options.get("reviewers") or [user], options.get("per_item", 1))
    params = {**options, "dataset_id": dataset_id, "version_id": version_id,
              "queue_id": new_id("q")}  # fmt: skip
    return False, jobs.get(jobs.submit("review_queue", params, user))


@register("review_queue")
def _run_queue(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.progress(0.0, "selecting the rows")
    options = dict(params)
    dataset_id = options.pop("dataset_id")
    return create_queue(ctx.store, dataset_id, user=ctx.user, **options)


def _queue_row(store: Store, queue_id: str) -> dict[str, Any]:
    ensure_schema(store)
    return store.must("SELECT * FROM queues WHERE id=?", (queue_id,), f"review queue {queue_id}")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not k.endswith("_json")}
    out["selection"] = orjson.loads(row["selection_json"])
    out["reviewers"] = orjson.loads(row["reviewers_json"])
    return out


def queue(store: Store, queue_id: str) -> dict[str, Any]:
    """A queue with its progress."""
    out = _public(_queue_row(store, queue_id))
    out["progress"] = queue_progress(store, queue_id)
    return out


def list_queues(
    store: Store, dataset_id: str | None = None, reviewer: str | None = None
) -> list[dict[str, Any]]:
    """The queues (of one dataset; or those with items for ``reviewer``, each with that
    person's progress as ``mine``), oldest first."""
    ensure_schema(store)
    where, args = [], []
    if dataset_id is not None:
        store.dataset(dataset_id)
        where.append("dataset_id=?")
        args.append(dataset_id)
    if reviewer is not None:
        where.append("id IN (SELECT queue_id FROM review_counts WHERE reviewer=? "
                     "AND key='assigned')")  # fmt: skip
        args.append(reviewer)
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    rows = store.all(f"SELECT id FROM queues {cond} ORDER BY created_at, id", tuple(args))
    out = [queue(store, r["id"]) for r in rows]
    if reviewer is not None:
        for q in out:
            q["mine"] = _person(store, q["id"], reviewer)
    return out


def delete_queue(store: Store, queue_id: str) -> None:
    """Remove a queue and its items and log; the edits its decisions made stay (undo them on
    the record, or from the queue before deleting it)."""
    _queue_row(store, queue_id)
    with store.tx() as conn:
        for table, column in (("review_decisions", "queue_id"), ("review_counts", "queue_id"),
                              ("queue_items", "queue_id"), ("queues", "id")):  # fmt: skip
            conn.execute(f"DELETE FROM {table} WHERE {column}=?", (queue_id,))


# -- items -------------------------------------------------------------------------------------
def list_items(
    store: Store,
    queue_id: str,
    *,
    reviewer: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
    viewer: str | None = None,
) -> dict[str, Any]:
    """A page of items. In a double-review queue, ``viewer`` sees another reviewer's decision on
    an item only once both decided it (blind review): until then it shows ``hidden: true``."""
    qrow = _queue_row(store, queue_id)
    where, args = ["queue_id=?"], [queue_id]
    if reviewer is not None:
        where.append("reviewer=?")
        args.append(reviewer)
    if status is not None:
        if status not in ("pending", *sorted(set(_STATUS.values()))):
            raise ApiError(422, "invalid", f"unknown item status '{status}'", "status",
                           "use pending, accepted, rejected or flagged")  # fmt: skip
        where.append("status=?")
        args.append(status)
    cond = " AND ".join(where)
    total = store.one(f"SELECT COUNT(*) AS n FROM queue_items WHERE {cond}", tuple(args))
    rows = store.all(
        f"SELECT * FROM queue_items WHERE {cond} ORDER BY position, slot LIMIT ? OFFSET ?",
        (*args, limit, offset),
    )
    items = [_item_public(r) for r in rows]
    if qrow["per_item"] > 1 and viewer is not None:
        conn = store.conn()
        for it in items:
            if it["reviewer"] != viewer and _open_slots(conn, queue_id, it["row_id"]) > 0:
                it.update(status=None, reason=None, decided_at=None, edited=False,
                          verified=False, hidden=True)  # fmt: skip
    return {"total": total["n"] if total else 0, "offset": offset, "limit": limit,
            "items": items}  # fmt: skip


def _item_public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("row_id", "slot", "position", "reviewer", "status", "reason",
                               "decided_at")}  # fmt: skip
    out["edited"] = bool(row["edited"])
    out["verified"] = bool(row["verified"])
    return out


def item_view(store: Store, queue_id: str, *, user: str, row_id: str) -> dict[str, Any]:
    """``user``'s item on row ``row_id`` as ``step`` shows it (``{"item", "record"}``: in double
    review, the row without the other reviewer's work and with the user's own edit); 404 when the
    row is not assigned to them. The record page opened from a queue reads the row this way."""
    qrow = _queue_row(store, queue_id)
    row = store.one("SELECT * FROM queue_items WHERE queue_id=? AND row_id=? AND reviewer=? "
                    "ORDER BY slot LIMIT 1", (queue_id, row_id, user))  # fmt: skip
    if row is None:
        raise ApiError(404, "not_found", f"row {row_id} is not assigned to {user} in queue "
                       f"{queue_id}", "row_id")  # fmt: skip
    record = _record(store, qrow, row_id, user)
    if record is None:
        raise ApiError(404, "not_found", f"row {row_id} is not in the dataset's head version")
    return {"item": _item_public(row), "record": record, "per_item": qrow["per_item"]}


def step(
    store: Store,
    queue_id: str,
    *,
    user: str,
    after: int | None = None,
    before: int | None = None,
    pending: bool = True,
) -> dict[str, Any]:
    """The reviewer's next item after position ``after`` (or the previous one before
    ``before``), pending ones only unless ``pending`` is False; wraps around to the start when
    going forward. ``{"item": None, "done": True}`` when nothing is left."""
    qrow = _queue_row(store, queue_id)
    cond = "queue_id=? AND reviewer=?" + (" AND status='pending'" if pending else "")
    args: tuple[Any, ...] = (queue_id, user)
    if before is not None:
        row = store.one(f"SELECT * FROM queue_items WHERE {cond} AND position<? "
                        "ORDER BY position DESC LIMIT 1", (*args, before))  # fmt: skip
    else:
        start = -1 if after is None else after
        row = store.one(f"SELECT * FROM queue_items WHERE {cond} AND position>? "
                        "ORDER BY position LIMIT 1", (*args, start))  # fmt: skip
        if row is None and after is not None:
            row = store.one(f"SELECT * FROM queue_items WHERE {cond} ORDER BY position LIMIT 1",
                            args)  # fmt: skip
    mine = _person(store, queue_id, user)
    if row is None:
        return {"item": None, "done": mine["pending"] == 0, "mine": mine}
    record = _record(store, qrow, row["row_id"], user)
    out: dict[str, Any] = {"item": _item_public(row), "record": record, "done": False, "mine": mine}
    if record is None:
        out["gone"] = f"row {row['row_id']} is not in the dataset's head version any more"
    return out


def _record(
    store: Store, qrow: dict[str, Any], row_id: str, user: str | None = None
) -> dict[str, Any] | None:
    """The row as it is now (through the edit overlay) with its revision, and the suggestion:
    the model's conversation when an LLM answered the row; None when a later version no longer
    has the row (the item can then only be passed over)."""
    try:
        current = edits.current_row(store, qrow["dataset_id"], row_id)
    except ApiError as err:
        if err.status == 404:
            return None
        raise
    row = current["row"]
    sample = Sample.from_dict(row["sample"])
    suggestion: dict[str, Any] | None = None
    if is_llm_answered(sample, row.get("model")):
        stored = (sample.meta or {}).get(SUGGESTION_KEY)
        if isinstance(stored, dict):
            suggestion = {**stored, "edited": True}
        else:
            suggestion = {"messages": [m.to_dict() for m in sample.messages],
                          "agent": row.get("model"), "edited": False}  # fmt: skip
    draft = _own_draft(store, qrow, row_id, user) if user is not None else None
    if draft is not None:  # blind review: the reviewer's own edit, not applied to the row yet
        current = {**current, "row": {**row, "sample": draft}}
        if suggestion is not None:
            suggestion = {**suggestion, "edited": True}
    return {**current, "suggestion": suggestion}


def _own_draft(store: Store, qrow: dict[str, Any], row_id: str, user: str) -> dict[str, Any] | None:
    """In a double-review item both have not decided yet, ``user``'s newest conversation edit
    (kept in the queue, not in the row); else None."""
    if qrow["per_item"] < 2 or _open_slots(store.conn(), qrow["id"], row_id) == 0:
        return None
    got = store.one(
        "SELECT r.sample_json FROM review_decisions d JOIN review_drafts r ON r.decision_id=d.id"
        " WHERE d.queue_id=? AND d.row_id=? AND d.reviewer=? AND d.undone=0"
        " ORDER BY d.id DESC LIMIT 1",
        (qrow["id"], row_id, user),
    )
    return orjson.loads(got["sample_json"]) if got else None


# -- decisions ---------------------------------------------------------------------------------
def decide(
    store: Store,
    queue_id: str,
    *,
    user: str,
    row_id: str,
    action: str,
    base_revision: int,
    reason: str | None = None,
    sample: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One reviewer's decision on one item, made as an edit of the row (409 when the row
    changed since ``base_revision``)."""
    qrow = _queue_row(store, queue_id)
    if action not in ACTIONS:
        raise ApiError(422, "invalid", f"unknown review action '{action}'", "action",
                       f"use one of: {', '.join(ACTIONS)}")  # fmt: skip
    reason = (reason or "").strip() or None
    if action == "reject" and reason is None:
        raise ApiError(422, "invalid", "a rejection needs a reason", "reason",
                       "say why the row is rejected")  # fmt: skip
    item = store.one(
        "SELECT * FROM queue_items WHERE queue_id=? AND row_id=? AND reviewer=? "
        "ORDER BY slot LIMIT 1",
        (queue_id, row_id, user),
    )
    if item is None:
        raise ApiError(404, "not_found", f"row {row_id} is not assigned to {user} in queue "
                       f"{queue_id}", "row_id", "take the next item from /next")  # fmt: skip
    dataset_id = qrow["dataset_id"]
    # the row's edit and the queue's update commit together, or neither does
    with store.tx() as conn:
        decide_in = _decide_blind if qrow["per_item"] > 1 else _decide_in
        result = decide_in(conn, store, queue_id, dataset_id, item, user=user, row_id=row_id,
                           action=action, base_revision=base_revision, reason=reason,
                           sample=sample)  # fmt: skip
    updated = store.one("SELECT * FROM queue_items WHERE queue_id=? AND row_id=? AND slot=?",
                        (queue_id, row_id, item["slot"]))  # fmt: skip
    assert updated is not None
    return {"item": _item_public(updated), "revision": int(result["id"]),
            "mine": _person(store, queue_id, user)}  # fmt: skip


def _decide_in(
    conn: sqlite3.Connection,
    store: Store,
    queue_id: str,
    dataset_id: str,
    item: dict[str, Any],
    *,
    user: str,
    row_id: str,
    action: str,
    base_revision: int,
    reason: str | None,
    sample: dict[str, Any] | None,
) -> dict[str, Any]:
    """``decide``'s writes, all in the caller's transaction ``conn``: the row's edit, the item's
    new state and the decision record. Returns the edit."""
    edit_ids: list[int] = []
    if action == "edit":
        if not isinstance(sample, dict):
            raise ApiError(422, "invalid", "an edit needs the new sample", "sample",
                           "send the edited conversation as 'sample'")  # fmt: skip
        # edits.apply_edit checks the sample and keeps the model's answer as the suggestion
        result = edits.apply_edit(store, dataset_id, row_id, base_revision=base_revision,
                                  user=user, sample=sample, conn=conn)  # fmt: skip
        edit_ids.append(int(result["id"]))
        changes: dict[str, Any] = {"edited": 1}
    else:
        state: dict[str, Any] = {"status": _STATUS[action], "reason": reason}
        if action == "verify":
            state["human_verified"] = True
        clash = _disagreement(store, queue_id, row_id, item["slot"], user, _STATUS[action])
        if clash is not None:  # the row waits for someone to settle it; the item keeps the vote
            state = {"status": "flagged", "reason": clash}
        result = edits.apply_edit(store, dataset_id, row_id, base_revision=base_revision,
                                  user=user, changes=state, conn=conn)  # fmt: skip
        edit_ids.append(int(result["id"]))
        changes = {"status": _STATUS[action], "reason": reason, "decided_at": now_iso()}
        if action == "verify":
            changes["verified"] = 1
    before_state = _set_item(conn, queue_id, row_id, item["slot"], changes)
    conn.execute(
        "INSERT INTO review_decisions(queue_id, row_id, slot, reviewer, action, reason,"
        " edit_ids_json, before_json, at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (queue_id, row_id, item["slot"], user, action, reason, _json(edit_ids),
         _json(before_state), now_iso()),
    )  # fmt: skip
    return result


def _decide_blind(
    conn: sqlite3.Connection,
    store: Store,
    queue_id: str,
    dataset_id: str,
    item: dict[str, Any],
    *,
    user: str,
    row_id: str,
    action: str,
    base_revision: int,
    reason: str | None,
    sample: dict[str, Any] | None,
) -> dict[str, Any]:
    """``_decide_in`` for a double-review queue: the decision is recorded in the queue only
    (an edit's conversation as a draft), so the other reviewer cannot see it; the one that
    completes the item (both reviewers decided) replays every decision on it, in order, as
    its reviewer's edit of the row (``_replay``). Returns ``{"id": the row's revision}``."""
    revision = _row_revision(conn, dataset_id, row_id)
    if revision != base_revision:  # the same refusal as edits.apply_edit's: no lost update
        raise ApiError(409, "conflict",
                       f"row '{row_id}' changed since revision {base_revision} (now {revision})",
                       "base_revision", "reload the row and make the change again")  # fmt: skip
    draft: str | None = None
    if action == "edit":
        if not isinstance(sample, dict):
            raise ApiError(422, "invalid", "an edit needs the new sample", "sample",
                           "send the edited conversation as 'sample'")  # fmt: skip
        draft = edits.checked_sample(sample)
        changes: dict[str, Any] = {"edited": 1}
    else:
        changes = {"status": _STATUS[action], "reason": reason, "decided_at": now_iso()}
        if action == "verify":
            changes["verified"] = 1
    before_state = _set_item(conn, queue_id, row_id, item["slot"], changes)
    cur = conn.execute(
        "INSERT INTO review_decisions(queue_id, row_id, slot, reviewer, action, reason,"
        " edit_ids_json, before_json, at) VALUES(?, ?, ?, ?, ?, ?, '[]', ?, ?)",
        (queue_id, row_id, item["slot"], user, action, reason, _json(before_state), now_iso()),
    )  # fmt: skip
    if draft is not None:
        conn.execute("INSERT INTO review_drafts(decision_id, sample_json) VALUES(?, ?)",
                     (cur.lastrowid, draft))  # fmt: skip
    if action == "edit" or _open_slots(conn, queue_id, row_id) > 0:
        return {"id": revision}
    edit_ids = _replay(conn, store, queue_id, dataset_id, row_id)
    conn.execute("UPDATE review_decisions SET edit_ids_json=? WHERE id=?",
                 (_json(edit_ids), cur.lastrowid))  # fmt: skip
    return {"id": edit_ids[-1] if edit_ids else revision}


def _replay(
    conn: sqlite3.Connection, store: Store, queue_id: str, dataset_id: str, row_id: str
) -> list[int]:
    """Both reviewers decided a double-reviewed item: make each decision on it (not undone),
    oldest first, the edit it would have been without blinding; the last verdict is flagged
    when the two disagree. Returns the edits' ids."""
    decisions = conn.execute(
        "SELECT d.*, r.sample_json FROM review_decisions d LEFT JOIN review_drafts r"
        " ON r.decision_id=d.id WHERE d.queue_id=? AND d.row_id=? AND d.undone=0 ORDER BY d.id",
        (queue_id, row_id),
    ).fetchall()
    last_verdict = max((d["id"] for d in decisions if d["action"] != "edit"), default=None)
    ids: list[int] = []
    for d in decisions:
        base = _row_revision(conn, dataset_id, row_id)
        if d["action"] == "edit":
            got = edits.apply_edit(store, dataset_id, row_id, base_revision=base,
                                   user=d["reviewer"], sample=orjson.loads(d["sample_json"]),
                                   conn=conn)  # fmt: skip
        else:
            state: dict[str, Any] = {"status": _STATUS[d["action"]], "reason": d["reason"]}
            if d["action"] == "verify":
                state["human_verified"] = True
            if d["id"] == last_verdict:
                clash = _disagreement(store, queue_id, row_id, d["slot"], d["reviewer"],
                                      _STATUS[d["action"]], conn)  # fmt: skip
                if clash is not None:
                    state = {"status": "flagged", "reason": clash}
            got = edits.apply_edit(store, dataset_id, row_id, base_revision=base,
                                   user=d["reviewer"], changes=state, conn=conn)  # fmt: skip
        ids.append(int(got["id"]))
    return ids


def _row_revision(conn: sqlite3.Connection, dataset_id: str, row_id: str) -> int:
    got = conn.execute("SELECT MAX(id) FROM edits WHERE dataset_id=? AND row_id=?",
                       (dataset_id, row_id)).fetchone()[0]  # fmt: skip
    return int(got or 0)


def _disagreement(
    store: Store,
    queue_id: str,
    row_id: str,
    slot: int,
    user: str,
    status: str,
    conn: sqlite3.Connection | None = None,
) -> str | None:
    """In double review, the reason to flag the row when the other reviewer of the item
    decided differently (so neither decision silently overwrites the other); else None."""
    other = (
        (conn or store.conn())
        .execute(
            "SELECT reviewer, status FROM queue_items WHERE queue_id=? AND row_id=? AND slot!=? "
            "AND status!='pending' LIMIT 1",
            (queue_id, row_id, slot),
        )
        .fetchone()
    )
    if other is None or other["status"] == status:
        return None
    return f"reviewers disagree: {other['reviewer']} {other['status']}, {user} {status}"


def undo_last(store: Store, queue_id: str, *, user: str) -> dict[str, Any]:
    """Undo the reviewer's last decision in the queue: its edits are undone through
    ``edits.undo`` and the item gets back the state it had."""
    qrow = _queue_row(store, queue_id)
    last = store.one(
        "SELECT * FROM review_decisions WHERE queue_id=? AND reviewer=? AND undone=0 "
        "ORDER BY id DESC LIMIT 1",
        (queue_id, user),
    )
    if last is None:
        raise ApiError(409, "conflict", f"{user} has no decision to undo in queue {queue_id}")
    before_state = orjson.loads(last["before_json"])
    if (
        qrow["per_item"] > 1
        and last["edit_ids_json"] == "[]"
        and _open_slots(store.conn(), queue_id, last["row_id"]) == 0
    ):  # blind review: the other reviewer's decision completed the item and made the edits
        raise ApiError(409, "conflict", f"row '{last['row_id']}' has a later edit: the other "
                       "reviewer's decision completed the item",
                       hint="the other reviewer undoes theirs first")  # fmt: skip
    with store.tx() as conn:  # the row's undo and the item's state: one transaction
        for edit_id in reversed(orjson.loads(last["edit_ids_json"])):
            edits.undo(store, qrow["dataset_id"], edit_id, user, conn=conn)
        _set_item(conn, queue_id, last["row_id"], last["slot"], before_state)
        conn.execute("UPDATE review_decisions SET undone=1 WHERE id=?", (last["id"],))
    item = store.one("SELECT * FROM queue_items WHERE queue_id=? AND row_id=? AND slot=?",
                     (queue_id, last["row_id"], last["slot"]))  # fmt: skip
    assert item is not None
    return {"undone": last["action"], "item": _item_public(item),
            "mine": _person(store, queue_id, user)}  # fmt: skip


def _set_item(
    conn: sqlite3.Connection, queue_id: str, row_id: str, slot: int, new: dict[str, Any]
) -> dict[str, Any]:
    """Change one item's state and the counts with it, in the caller's transaction; returns
    the state it had."""
    key = (queue_id, row_id, slot)
    old = dict(conn.execute("SELECT * FROM queue_items WHERE queue_id=? AND row_id=? AND slot=?",
                            key).fetchone())  # fmt: skip
    open_before = _open_slots(conn, queue_id, row_id)
    sets = ", ".join(f"{k}=?" for k in new)
    conn.execute(f"UPDATE queue_items SET {sets} WHERE queue_id=? AND row_id=? AND slot=?",
                 (*new.values(), *key))  # fmt: skip
    merged = {**old, **new}
    deltas: Counter[str] = Counter()
    if merged["status"] != old["status"]:
        deltas[old["status"]] -= 1
        deltas[merged["status"]] += 1
    for flag in ("edited", "verified"):
        deltas[flag] += int(merged[flag]) - int(old[flag])
    _bump(conn, queue_id, old["reviewer"], deltas)
    done = int(_open_slots(conn, queue_id, row_id) == 0) - int(open_before == 0)
    _bump(conn, queue_id, "", {"items_done": done})
    return {k: old[k] for k in _ITEM_STATE}


def _open_slots(conn: sqlite3.Connection, queue_id: str, row_id: str) -> int:
    got = conn.execute("SELECT COUNT(*) FROM queue_items WHERE queue_id=? AND row_id=? "
                       "AND status='pending'", (queue_id, row_id)).fetchone()  # fmt: skip
    return int(got[0])


def _bump(conn: sqlite3.Connection, queue_id: str, reviewer: str, deltas: Any) -> None:
    conn.executemany(
        "INSERT INTO review_counts(queue_id, reviewer, key, n) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(queue_id, reviewer, key) DO UPDATE SET n = n + excluded.n",
        [(queue_id, reviewer, k, int(d)) for k, d in deltas.items() if d],
    )


# -- progress and agreement ---------------------------------------------------------------------
def _person(store: Store, queue_id: str, user: str) -> dict[str, Any]:
    return _people(store, queue_id, user).get(user) or _empty_person(user)


def _empty_person(user: str) -> dict[str, Any]:
    return {"reviewer": user, "assigned": 0, "pending": 0, "accepted": 0, "rejected": 0,
            "flagged": 0, "edited": 0, "verified": 0, "done": 0, "percent": 0.0}  # fmt: skip


def _people(store: Store, queue_id: str, user: str | None = None) -> dict[str, dict[str, Any]]:
    where = "queue_id=? AND reviewer!=''" + (" AND reviewer=?" if user is not None else "")
    args = (queue_id,) if user is None else (queue_id, user)
    people: dict[str, dict[str, Any]] = {}
    for r in store.all(f"SELECT reviewer, key, n FROM review_counts WHERE {where}", args):
        people.setdefault(r["reviewer"], _empty_person(r["reviewer"]))[r["key"]] = r["n"]
    for p in people.values():
        p["done"] = p["assigned"] - p["pending"]
        p["percent"] = round(100.0 * p["done"] / p["assigned"], 2) if p["assigned"] else 0.0
    return people


def queue_progress(store: Store, queue_id: str) -> dict[str, Any]:
    """Items (rows) done when every reviewer of it decided, decisions by status, and the same
    per person."""
    qrow = _queue_row(store, queue_id)
    people = _people(store, queue_id)
    by_status: Counter[str] = Counter()
    for p in people.values():
        for status in ("pending", "accepted", "rejected", "flagged"):
            by_status[status] += p[status]
    done = store.one("SELECT n FROM review_counts WHERE queue_id=? AND reviewer='' "
                     "AND key='items_done'", (queue_id,))  # fmt: skip
    items_done = done["n"] if done else 0
    return {
        "items": qrow["items"],
        "items_done": items_done,
        "percent": round(100.0 * items_done / qrow["items"], 2) if qrow["items"] else 0.0,
        "decisions": sum(by_status.values()) - by_status["pending"],
        "assignments": sum(by_status.values()),
        "by_status": dict(by_status),
        "by_person": sorted(people.values(), key=lambda p: p["reviewer"]),
    }


def queue_agreement(store: Store, queue_id: str) -> dict[str, Any]:
    """Percent agreement and Cohen's kappa between the two reviewers of each item, over the
    items both decided: overall (first slot against second) and per pair of people."""
    qrow = _queue_row(store, queue_id)
    if qrow["per_item"] < 2:
        raise ApiError(409, "conflict", f"queue {queue_id} has one reviewer per item",
                       hint="agreement needs a double-review queue (per_item 2)")  # fmt: skip
    rows = store.all(
        "SELECT a.reviewer AS ra, a.status AS sa, b.reviewer AS rb, b.status AS sb "
        "FROM queue_items a JOIN queue_items b ON b.queue_id=a.queue_id AND b.row_id=a.row_id "
        "AND b.slot=1 WHERE a.queue_id=? AND a.slot=0 AND a.status!='pending' "
        "AND b.status!='pending' ORDER BY a.position",
        (queue_id,),
    )
    pairs: defaultdict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        if r["ra"] <= r["rb"]:
            pairs[(r["ra"], r["rb"])].append((r["sa"], r["sb"]))
        else:
            pairs[(r["rb"], r["ra"])].append((r["sb"], r["sa"]))
    overall = agreement([(r["sa"], r["sb"]) for r in rows])
    cells = Counter((r["sa"], r["sb"]) for r in rows)
    return {
        **overall.to_dict(),
        "labels": sorted({r["sa"] for r in rows} | {r["sb"] for r in rows}),
        # where they agree and where not: first reviewer's label x second's
        "matrix": [{"first": a, "second": b, "items": n} for (a, b), n in sorted(cells.items())],
        "by_pair": [
            {"reviewers": list(k), **agreement(v).to_dict()} for k, v in sorted(pairs.items())
        ],
    }


def _json(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")
