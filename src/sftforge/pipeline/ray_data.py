"""Map stages as Ray Data datasets: one row per chunk, ``map_batches`` runs the chunk.

A map stage (mappers, filters, ``tokenize``, and the keys of the keyed stages after it) is a
Ray Data dataset whose rows are the stage's chunk tasks (``ChunkTask``, pickled): the rows of
a stage after the first name the previous stage's chunk files, the first stage's rows carry
the records the driver read (the same chunks, cut by ``chunk_size`` from the same reader, as a
local run). ``map_batches`` over numpy batches of one row (no pandas, no Arrow conversion of the
samples) runs the worker's own ``run_task`` on each: the same operators write the same chunk
files, so the outputs, rejects and counts are the local executor's byte for byte. The rows the
datasets give back are the chunks' summaries, which the driver checkpoints one by one in the
manifest, as locally.

Why a chunk per row rather than a sample per row: a chunk's rejects and cached metrics depend
on which samples share the chunk, and a killed worker's chunk must be run again to the same
bytes; Ray Data's own batches do not keep to the manifest's chunks.

The first stage reads its inputs in the driver while the chunks run: a dataset needs its rows
before it starts, so that stage runs as windows of ``WINDOW_PER_CPU`` chunks per CPU, at most
two windows running at once (the driver holds at most three windows of records), so reading
and the workers overlap as with the local pool's bounded window. Later stages are one dataset.

A task whose worker died is run again by Ray Data up to ``retries`` times (a chunk's files are
written atomically and depend only on its input); past them the stage fails as a broken local
pool does, resumable. An operator's ``SftforgeError`` comes back as itself.
"""

from __future__ import annotations

import logging
import pickle
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from ..errors import SftforgeError
from .ray_pool import WorkerSetup, call, task_error
from .worker import ChunkTask, run_task

__all__ = ["WINDOW_PER_CPU", "Stalled", "WorkerLost", "run_chunks"]

WINDOW_PER_CPU = 4  # first-stage chunks per CPU in one dataset (two datasets run at once)
_RUNNING = 2  # windows running at once: the next one starts while the last chunks finish


def run_chunks(
    setup: WorkerSetup,
    tasks: Iterable[ChunkTask],
    done: Callable[[int, dict[str, Any]], None],
    *,
    cpus: int,
    retries: int,
    stall_timeout: float | None,
    windowed: bool,
) -> None:
    """Run ``tasks`` (one stage's chunks not yet done) as Ray Data datasets; ``done(index,
    summary)`` is called in this thread as each chunk finishes, in finishing order.

    ``windowed``: the tasks come from a reader (the first stage) and are run in windows as they
    are read; else they are all made first (chunk file names) and run as one dataset. Raises
    the operator's error, ``WorkerLost`` for a worker that died past its retries, or
    ``Stalled`` when no chunk finished for ``stall_timeout`` seconds (both name the chunks in
    progress)."""
    _quiet()
    results: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    running: set[int] = set()  # chunks of the windows started, not finished
    windows = 0
    size = max(1, WINDOW_PER_CPU * cpus) if windowed else None

    def handle() -> None:
        nonlocal windows
        try:
            kind, value = results.get(timeout=stall_timeout)
        except queue.Empty:
            raise Stalled(sorted(running)) from None
        if kind == "error" and isinstance(value, BrokenProcessPool):
            raise WorkerLost(sorted(running)) from None
        if kind in ("error", "failed"):
            raise value
        if kind == "end":
            windows -= 1
            return
        running.discard(int(value["index"]))
        done(int(value["index"]), value)

    try:
        for window in _windows(tasks, size):
            while windows >= _RUNNING:
                handle()
            args = (setup, window, retries, results, stop)
            threading.Thread(target=_consume, args=args, daemon=True).start()
            running.update(t.index for t in window)
            windows += 1
        while windows:
            handle()
    finally:
        stop.set()  # a failed stage: the windows still running stop at their next chunk


def _windows(tasks: Iterable[ChunkTask], size: int | None) -> Iterator[list[ChunkTask]]:
    window: list[ChunkTask] = []
    for task in tasks:
        window.append(task)
        if size is not None and len(window) >= size:
            yield window
            window = []
    if window:
        yield window


class Stalled(Exception):
    """No chunk finished for the stall timeout; ``chunks`` were in progress."""

    def __init__(self, chunks: list[int]) -> None:
        super().__init__(chunks)
        self.chunks = chunks


class WorkerLost(Stalled):
    """A worker died past its retries; ``chunks`` were in progress."""


def _consume(
    setup: WorkerSetup,
    window: list[ChunkTask],
    retries: int,
    results: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
) -> None:
    """Run one window's dataset (in its own thread) and pass each chunk's result on."""
    try:
        for row in _dataset(setup, window, retries).iter_rows():
            results.put(pickle.loads(row["result"]))
            if stop.is_set():
                return  # closing the iterator stops the dataset's execution
        results.put(("end", None))
    except BaseException as exc:  # handed to the driver's thread, which raises it
        results.put(("error", task_error(exc)))


def _dataset(setup: WorkerSetup, window: list[ChunkTask], retries: int) -> Any:
    import ray.data

    rows = [{"task": pickle.dumps(t, protocol=5)} for t in window]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    udf: Any = _run_batch  # its extra argument comes from ``fn_args``
    with warnings.catch_warnings():
        # ``max_retries`` has no named parameter yet: Ray Data's default retries a task whose
        # worker died without end, and ``--retries`` must bound it as on the task path
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.map_batches(
            udf,
            fn_args=(setup,),
            batch_size=1,
            batch_format="numpy",
            num_cpus=1,
            max_retries=retries,
        )


def _run_batch(batch: dict[str, np.ndarray], setup: WorkerSetup) -> dict[str, np.ndarray]:
    """The UDF: each row's chunk through the worker's ``run_task``; its summary, or the
    operator's error, pickled. The error is a result rather than raised: Ray Data raises a UDF's
    error as a ``UserCodeException`` that has lost the error itself (only its text is kept)."""
    out = []
    for t in batch["task"]:
        try:
            result: tuple[str, Any] = ("chunk", call(setup, run_task, pickle.loads(t)))
        except SftforgeError as exc:
            result = ("failed", task_error(exc))  # a plain SftforgeError: it unpickles
        out.append(pickle.dumps(result, protocol=5))
    return {"result": np.array(out, dtype=object)}


def _quiet() -> None:
    """No progress bars or execution logs of Ray Data on the CLI's stderr (sftforge draws its
    own progress and prints one line per error)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
