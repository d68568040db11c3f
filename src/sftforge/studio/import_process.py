"""An import job in a process of its own, so that the server's threads are never forked.

With ``StudioSettings.import_workers`` above 1, ``run_import_job`` hands the import to
``python -m sftforge.studio.import_process``: a fresh interpreter (``subprocess`` starts it by
``exec``, which is safe from a threaded process where a bare ``fork`` is not: a child forked
from the server could inherit a lock another thread holds). That process has one thread when
``import_file`` forks convert's helper processes in it, records progress in the job's row as
the job thread would, and prints the import's row as JSON. The job's parameters go through
stdin (not the command line: no other user sees them in ``ps``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from .imports import fail_import, import_file, job_import_options
from .jobs import JobContext
from .store import Store

__all__ = ["import_in_process", "main"]

log = logging.getLogger("sftforge.studio.imports")


def import_in_process(ctx: JobContext, params: dict[str, Any], workers: int) -> dict[str, Any]:
    """``import_file`` of the job's ``params`` with ``workers`` processes, in a child process;
    returns the import's row (a failed import too: ``status`` says which). A child that ends
    without an answer (killed, out of memory) fails the import with one line."""
    settings = ctx.settings
    payload = {
        "home": str(ctx.store.home),
        "versions": str(settings.folder("versions")),
        "rejects": str(settings.folder("rejects")),
        "job_id": ctx.job_id,
        "user": ctx.user,
        "workers": workers,
        "params": params,
    }
    # the child imports this very sftforge, whatever the server's working directory
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
    proc = subprocess.run(
        [sys.executable, "-m", __name__],
        input=orjson.dumps(payload),
        capture_output=True,
        env=env,
        check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode == 0 and lines:
        row: dict[str, Any] = orjson.loads(lines[-1])
        return row
    # the details (a traceback) go to the server log, one line to the page
    log.error("import process for job %s failed: %s", ctx.job_id, proc.stderr.decode()[-4000:])
    error = f"the import process ended without a result (exit code {proc.returncode})"
    fail_import(ctx.store, params["import_id"], error)
    row = ctx.store.must(
        "SELECT * FROM imports WHERE id=?", (params["import_id"],), f"import {params['import_id']}"
    )
    return row


def main() -> int:
    """The child: read the payload from stdin, import, print the import's row."""
    payload = orjson.loads(sys.stdin.buffer.read())
    store = Store(Path(payload["home"]))
    ctx = JobContext(store, None, payload["job_id"], payload["user"])
    params = payload["params"]
    row = import_file(
        store,
        Path(payload["versions"]),
        Path(payload["rejects"]),
        params["dataset_id"],
        params["path"],
        user=payload["user"],
        import_id=params["import_id"],
        progress=ctx.progress,
        workers=payload["workers"],
        **job_import_options(params),
    )
    store.close()
    sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
