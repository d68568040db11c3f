"""Recipe runs and LLM generation on a dataset version, as jobs that make a new version.

A run takes one version of a dataset as its input and gives the dataset a new version: the same
``run_recipe`` the CLI's ``sftforge run`` calls, over the version written as sftforge's canonical
JSONL (``<home>/runs/<run_id>/input.jsonl``), in one process (the studio is threaded: no fork).
The recipe is checked when it is posted (``run_spec``: the CLI's one-line errors, the studio's
rules on files and endpoints), and again in the job. The output becomes the new version
(``run_merge``: each row keeps or gets its lineage), the run's rejects are kept in
``<home>/rejects/<run_id>.jsonl`` with each row's id (viewable and downloadable like an
import's), and the run records read = kept + rejected + failed, changed and added rows.

Generation (``generate_recipe``) is a recipe of one LLM step the studio writes from a form:
``answer`` (respond to rows without an answer), ``suggest`` (answer every row; a person's answer
stays and the model's is kept beside it for review), ``judge`` (LLM-as-judge scores into the
``score`` column). It runs the same way, so it is the same kind of run.

Table ``runs`` (``store.ensure_schema``): the run, its recipe text (no secret is ever in it),
the version it read and the one it made, its counts and status.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import yaml

from .. import progress
from ..errors import SftforgeError
from ..io import remote
from ..llm.peer_check import checking_peers
from ..pipeline.run import run_recipe
from . import netguard
from .errors import ApiError
from .history import resolve
from .jobs import JobContext, JobQueue, register
from .run_merge import merge_run
from .run_progress import RunProgress
from .run_spec import INPUT_FILE, OUTPUT_FILE, read_recipe_text, studio_recipe
from .settings import StudioSettings
from .store import Store, new_id, now_iso
from .versions import VersionWriter, iter_batches

__all__ = [
    "GENERATE_TASKS",
    "generate_recipe",
    "get_run",
    "list_runs",
    "rejects_file",
    "run_view",
    "start_run",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
    id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, kind TEXT NOT NULL, recipe TEXT NOT NULL,
    base_version TEXT NOT NULL, version_id TEXT, job_id TEXT, status TEXT NOT NULL,
    counts_json TEXT, endpoints_json TEXT, rejects_path TEXT, error TEXT,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_dataset ON runs(dataset_id, created_at);
"""

# generation shortcuts -> (the LLM step, its options)
GENERATE_TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "answer": ("respond", {"mode": "missing"}),
    "suggest": ("respond", {"mode": "all"}),
    "judge": ("judge", {"scale": 10}),
}
_LLM_FORM = ("connection", "base_url", "api_key_env", "model", "max_tokens_budget", "max_cost",
             "prices", "concurrency", "rpm", "params")  # fmt: skip


def _schema(store: Store) -> None:
    store.ensure_schema("runs", _SCHEMA)


def run_view(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["counts"] = orjson.loads(out.pop("counts_json") or "null")
    out["endpoints"] = orjson.loads(out.pop("endpoints_json") or "[]")
    out["has_rejects"] = bool(out.pop("rejects_path", None))
    return out


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    _schema(store)
    return store.must("SELECT * FROM runs WHERE id=?", (run_id,), f"run {run_id}")


def list_runs(store: Store, dataset_id: str) -> list[dict[str, Any]]:
    _schema(store)
    store.dataset(dataset_id)
    rows = store.all(
        "SELECT * FROM runs WHERE dataset_id=? ORDER BY created_at DESC, id", (dataset_id,)
    )
    return [run_view(r) for r in rows]


def rejects_file(store: Store, row: dict[str, Any]) -> Path | None:
    if not row["rejects_path"]:
        return None
    path = store.home / row["rejects_path"]
    return path if path.is_file() else None


def generate_recipe(task: str, llm: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    """The recipe text of a generation shortcut: one LLM step with the form's endpoint and
    budget (a connection's id or a base URL and a variable's name: never a key)."""
    if task not in GENERATE_TASKS:
        raise ApiError(422, "invalid", f"unknown generation task '{task}'", "task",
                       f"use one of: {', '.join(GENERATE_TASKS)}")  # fmt: skip
    unknown = sorted(set(llm) - set(_LLM_FORM))
    if unknown:
        raise ApiError(422, "invalid", f"llm has no field {unknown[0]!r}", f"llm.{unknown[0]}",
                       f"fields: {', '.join(_LLM_FORM)}")  # fmt: skip
    op, defaults = GENERATE_TASKS[task]
    step = {**defaults, **(options or {}), "llm": {k: v for k, v in llm.items() if v is not None}}
    return yaml.safe_dump({"steps": [{op: step}]}, allow_unicode=True, sort_keys=False)


def start_run(
    store: Store,
    queue: JobQueue,
    settings: StudioSettings,
    dataset_id: str,
    *,
    recipe_text: str,
    version: str = "head",
    user: str,
    may_use_env: bool,
    kind: str = "recipe",
    keep_human: bool = False,
) -> dict[str, Any]:
    """Check the recipe now (its mistakes are the answer) and queue the run; returns the run
    (status ``queued``) with its ``job_id``."""
    _schema(store)
    base = resolve(store, dataset_id, version)
    _check_no_open_edits(store.conn(), dataset_id)
    run_id = new_id("r")
    folder = settings.folder("runs") / run_id
    try:
        data = read_recipe_text(recipe_text, folder)
        prepared = studio_recipe(
            data, settings=settings, store=store, folder=folder, may_use_env=may_use_env,
            run_id=run_id,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # the run is recorded before its job is queued: the worker may start it at once
    job_id = new_id("j")
    store.conn().execute(
        "INSERT INTO runs(id, dataset_id, kind, recipe, base_version, version_id, job_id, status,"
        " counts_json, endpoints_json, rejects_path, error, created_by, created_at)"
        " VALUES(?, ?, ?, ?, ?, NULL, ?, 'queued', NULL, ?, NULL, NULL, ?, ?)",
        (run_id, dataset_id, kind, recipe_text, base["id"], job_id,
         orjson.dumps(prepared.endpoints).decode("utf-8"), user, now_iso()),
    )  # fmt: skip
    queue.submit(
        "run",
        {"run_id": run_id, "dataset_id": dataset_id, "version_id": base["id"],
         "head": store.dataset(dataset_id)["head_version"],
         "may_use_env": may_use_env, "keep_human": keep_human},
        user,
        job_id=job_id,
    )  # fmt: skip
    return run_view(get_run(store, run_id))


def _check_no_open_edits(conn: Any, dataset_id: str) -> None:
    """A run replaces the head: edits not committed yet would be laid over the run's rows and
    undo what it changed, so a run waits until they are committed or undone (409)."""
    open_edits = conn.execute(
        "SELECT COUNT(*) FROM edits WHERE dataset_id=? AND committed_in IS NULL"
        " AND undone_by IS NULL AND kind!='undo'",
        (dataset_id,),
    ).fetchone()[0]
    if open_edits:
        raise ApiError(
            409, "conflict", f"dataset {dataset_id} has {open_edits} edits not committed yet",
            hint="commit the edits as a version (or undo them), then run again",
        )  # fmt: skip


def _set(store: Store, run_id: str, **values: Any) -> None:
    cols = ", ".join(f"{k}=?" for k in values)
    store.conn().execute(f"UPDATE runs SET {cols} WHERE id=?", (*values.values(), run_id))


def _write_input(version_path: str | Path, path: Path) -> int:
    """The version's samples as canonical JSONL, in row order (what ``meta["row"]`` counts)."""
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        for batch in iter_batches(version_path, columns=["sample"]):
            for text in batch.column("sample").to_pylist():
                fh.write(text.encode("utf-8") + b"\n")
                n += 1
    os.replace(tmp, path)
    return n


@register("run")
def run_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    store, settings = ctx.store, ctx.settings
    run_id = params["run_id"]
    row = get_run(store, run_id)
    _set(store, run_id, status="running", error=None)
    try:
        return _run(ctx, params, row)
    except (SftforgeError, ApiError, OSError) as err:
        # masked (a connection's key, a URL's password) before the run and the job keep it
        message = remote.scrub(err.message if isinstance(err, ApiError) else str(err))
        _set(store, run_id, status="failed", error=message)
        if isinstance(err, ApiError):
            raise ApiError(err.status, err.code, message, err.field, err.hint) from None
        raise ApiError(400, "bad_input", message) from None
    except Exception as err:  # a bug: the job's log has the traceback; the run says it failed
        _set(store, run_id, status="failed", error=f"internal error: {type(err).__name__}")
        raise
    finally:  # the version and the kept rejects hold what they had; the recipe text stays
        folder = settings.folder("runs") / run_id
        shutil.rmtree(folder / "out", ignore_errors=True)
        for name in (INPUT_FILE, OUTPUT_FILE):
            (folder / name).unlink(missing_ok=True)
        for path in folder.glob("failed-*.jsonl"):  # in the kept rejects now
            path.unlink(missing_ok=True)


def _run(ctx: JobContext, params: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    store, settings = ctx.store, ctx.settings
    run_id, dataset_id = params["run_id"], params["dataset_id"]
    folder = settings.folder("runs") / run_id
    data = read_recipe_text(row["recipe"], folder)
    prepared = studio_recipe(
        data, settings=settings, store=store, folder=folder,
        may_use_env=bool(params.get("may_use_env")), with_secrets=True, run_id=run_id,
    )  # fmt: skip
    base = store.version(params["version_id"], dataset_id)
    version_path = store.home / base["path"]
    # the new version's parent: the head when the run was asked for; a version made since
    # (edits committed, a rollback, an import) fails the run rather than being replaced
    head = params["head"]
    for path in folder.glob("failed-*.jsonl"):  # of an attempt the process did not finish
        path.unlink()
    ctx.progress(0.02, "writing the input")
    n_input = _write_input(version_path, folder / INPUT_FILE)
    ctx.progress(0.05, "running the recipe")
    out = folder / "out"
    # the pipeline's own progress reports (what `sftforge run` draws as bars), per stage
    report = RunProgress(ctx.progress, n_input)

    # a connection's key lives in the environment only while its run runs (the provider reads
    # it from there); the key is registered with the masking so no message can show it
    remote._remember(*prepared.env.values())
    os.environ.update(prepared.env)
    try:
        # allow_outside: the metric cache is the studio's own folder (the recipe cannot name
        # one); the only output is the studio's, inside the run folder
        # every connection the LLM client opens is checked again (a name that resolves to a
        # public address at the check and to loopback later, DNS rebinding, is refused)
        guard = netguard.UrlGuard(allow_private=settings.allow_private_urls)
        with (
            checking_peers(None if guard.allow_private else guard.address),
            progress.watch(report.update, every=report.every),
        ):
            result = run_recipe(
                prepared.recipe, out, workers=1, resume=False, engine="local",
                allow_outside=True,
            )  # fmt: skip
    finally:
        for name in prepared.env:
            os.environ.pop(name, None)
    ctx.progress(0.9, "writing the new version")
    writer = VersionWriter(settings.folder("versions"), head, dataset_id=dataset_id)
    kept_rejects = settings.folder("rejects") / f"{run_id}.jsonl"
    try:
        counts = merge_run(
            version_path, result.outputs["train"], result.rejects, kept_rejects, writer,
            job_id=ctx.job_id, ops=prepared.recipe.build_ops(),
            keep_human=bool(params.get("keep_human")), failed_files=prepared.failed_files,
        )  # fmt: skip
        version_id, vpath, rows = writer.finish()
    except BaseException:
        writer.abort()
        kept_rejects.unlink(missing_ok=True)
        raise
    has_rejects = counts.rejected + counts.failed + counts.added_rejected + counts.not_generated > 0
    if not has_rejects:
        kept_rejects.unlink(missing_ok=True)
    counts.rows = rows
    summary = {**counts.to_dict(), "pipeline": result.counts}
    with store.tx() as conn:
        _check_no_open_edits(conn, dataset_id)  # an edit made while the run ran
        now = conn.execute("SELECT head_version FROM datasets WHERE id=?", (dataset_id,))
        if now.fetchone()[0] != head:
            raise ApiError(
                409, "conflict", f"dataset {dataset_id} got a new version while the run waited"
                " or ran",
                hint="run it again: on the new head, or on the version you chose",
            )  # fmt: skip
        store.add_version(
            conn, version_id=version_id, dataset_id=dataset_id, parent_id=head,
            kind=row["kind"], message=f"{row['kind']} {run_id} on {base['id']}",
            user=ctx.user, rows=rows, path=str(vpath),
        )  # fmt: skip
        conn.execute(
            "UPDATE runs SET status='done', version_id=?, counts_json=?, rejects_path=?"
            " WHERE id=?",
            (version_id, orjson.dumps(summary).decode("utf-8"),
             str(kept_rejects.relative_to(store.home)) if has_rejects else None, run_id),
        )  # fmt: skip
    return run_view(get_run(store, run_id))
