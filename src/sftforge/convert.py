"""``convert``: read a file in one format and write it in another, in one call.

JSON and JSONL outputs go through one loop over *pieces* of the input (``sftforge.io.pieces``):
runs of raw JSONL lines or JSON array elements, cut by the reader without parsing them. Each
piece is parsed, decoded into Samples, validated and serialised in the target format in one go
(``_Job.run``), and comes back as one blob of output bytes plus the rejects, in input order, which
this process applies exactly as the serial reader would (same values, lines, errors and counts).

With ``workers = n > 1`` (by default the idle CPUs, for inputs of 16 MiB or more) ``n - 1`` forked
helper processes take tasks of pieces through pipes while this process cuts the input, runs a
task itself whenever every helper has two to do, and writes the blobs in input order. So only
bytes cross the pipes (no Python objects to pickle but the rejects), memory stays bounded, and
the output, rejects, errors and counts are those of one process. A JSON array is cut at the
separator the file uses between elements; a cut that turns out wrong (a broken element, a
separator inside a value) is rolled back and read again element by element, here, exactly as
``read`` reads it.

Other outputs (CSV, Parquet, text) and ``dataset_info`` go through ``read`` + ``write``.
Samples are made inside ``deferred_ids()``: their content id is computed only when something asks
for it (an error message, a format that writes ids); ids in the output are unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ._gc import gc_paused, gc_relaxed
from .api import Reader, decode, read, resolve_format, write
from .errors import ConversionError, InputError, SftforgeError
from .formats.base import Format, LossLog
from .io.containers import container_from_name, open_writer
from .io.jsonl import lines_records, lines_values
from .io.paths import same_file
from .io.pieces import Lines, Piece, PieceStream, Records, Window, window_starts
from .io.record import RawRecord
from .sample import deferred_ids

__all__ = [
    "PARALLEL_MIN_BYTES",
    "ConvertResult",
    "Progress",
    "RowsHook",
    "convert",
    "decode_pieces",
    "idle_cpus",
]

PARALLEL_MIN_BYTES = 16 << 20  # below this, forking workers costs more than it saves
_TASK_BYTES = 1 << 19  # a helper's task: pieces of about this many input bytes

# the progress hook: ``progress(items, reader)``, or ``progress(items, reader, weight=...)``
Progress = Callable[..., Iterator[Any]]


@dataclass
class ConvertResult:
    read: int
    written: int
    rejected: int
    format: str
    confidence: float
    container: str
    by_reason: dict[str, int] = field(default_factory=dict)
    losses: dict[str, int] = field(default_factory=dict)
    workers: int = 1
    # the first rejected record's error (file, line, reason), and the problems in the file that
    # are not records (a JSON array's stray commas: in no count)
    first_error: str | None = None
    notices: list[str] = field(default_factory=list)


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    to: str | Format,
    *,
    from_: str | Format | None = None,
    on_error: str = "raise",
    rejects: Any = None,
    allow_lossy: bool = False,
    out_container: str | None = None,
    compression: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    on_open: Callable[[Reader], None] | None = None,
    dataset_info: str | os.PathLike[str] | None = None,
    dataset_name: str | None = None,
    **read_options: Any,
) -> ConvertResult:
    """Convert ``src`` to ``dst`` in format ``to``; ``read``/``write`` semantics and errors.

    ``workers``: processes for decoding/encoding (default: the CPUs not busy by the load
    average, ``idle_cpus()``, used only for inputs of at least ``PARALLEL_MIN_BYTES`` written as
    JSON/JSONL). ``progress(items, reader, weight=None)`` wraps the stream of records (the
    CLI's progress bar, ``sftforge.cli._report.progress``): the records themselves for other
    outputs; for JSON/JSONL, one item per piece of input with ``weight(item)`` the records it
    held (no step per record). ``on_open`` is called once the format is known.
    """
    if workers is not None and (type(workers) is not int or workers < 1):
        raise InputError(
            f"workers must be an integer >= 1, got {workers!r}.",
            hint="pass workers=N with N >= 1 (1: this process only), or leave it out",
        )
    target = resolve_format(to)
    out = os.fspath(dst)
    _check_paths(src, out, rejects, dataset_info)
    try:
        return _convert(
            src, out, target, from_, on_error, rejects, allow_lossy, out_container, compression,
            workers, progress, on_open, dataset_info, dataset_name, read_options,
        )  # fmt: skip
    except OSError as exc:  # disk full, permission denied: the output is not written at all
        from .oserrors import os_error  # (here: a conversion that works needs no error texts)

        raise os_error(exc, out) from exc


def _convert(
    src: str | os.PathLike[str],
    out: str,
    target: Format,
    from_: str | Format | None,
    on_error: str,
    rejects: Any,
    allow_lossy: bool,
    out_container: str | None,
    compression: str | None,
    workers: int | None,
    progress: Progress | None,
    on_open: Callable[[Reader], None] | None,
    dataset_info: str | os.PathLike[str] | None,
    dataset_name: str | None,
    read_options: dict[str, Any],
) -> ConvertResult:
    with read(src, from_, on_error=on_error, rejects=rejects, **read_options) as reader:
        if on_open is not None:
            on_open(reader)
        kind = out_container or container_from_name(out) or target.default_container
        if dataset_info is None and kind in ("jsonl", "json"):
            n = _workers(workers, reader)
            with open_writer(
                out, container=out_container, compression=compression,
                default_container=target.default_container,
            ) as writer:  # fmt: skip
                joiner = writer.joiner
                assert joiner is not None
                job = _Job(reader, target, allow_lossy, joiner)
                losses = _Driver(reader, job, writer.write_blob, n, progress).run()
            written = writer.count
        else:
            n = 1
            stream = progress(reader, reader) if progress is not None else reader
            res = write(
                stream, out, target, container=out_container, allow_lossy=allow_lossy,
                compression=compression, dataset_info=dataset_info, dataset_name=dataset_name,
            )  # fmt: skip
            written, losses = res.count, res.losses
    s = reader.stats
    first = str(reader.errors[0]) if reader.errors else None
    return ConvertResult(
        s.read, written, s.rejected, reader.format.name, reader.confidence,
        reader.source.container, dict(s.by_reason), losses, n, first,
        [str(e) for e in reader.notices],
    )  # fmt: skip


def _check_paths(src: Any, out: str, rejects: Any, dataset_info: Any) -> None:
    """Refuse, before reading, to write over the input (or the output with the rejects)."""
    writes = [("the output", out)]
    if isinstance(rejects, (str, os.PathLike)):
        writes.append(("the rejects file", os.fspath(rejects)))
    if isinstance(dataset_info, (str, os.PathLike)):
        writes.append(("the dataset_info file", os.fspath(dataset_info)))
    reads = [("the input", os.fspath(src))] if isinstance(src, (str, os.PathLike)) else []
    for i, (what, path) in enumerate(writes):
        for other, against in [*reads, *writes[:i]]:
            if same_file(against, path):
                raise InputError(
                    f"{what} is {other} ({against}): writing it would destroy {other}.",
                    file=path,
                    hint="write to another path, e.g. out.jsonl",
                )


def _workers(workers: int | None, reader: Reader) -> int:
    if workers is None:
        size = reader.source.size or 0
        n = idle_cpus() if size >= PARALLEL_MIN_BYTES else 1
    else:
        n = workers
    if n <= 1:
        return 1
    import multiprocessing  # (here: a small input, the common case, needs no helpers)

    return n if "fork" in multiprocessing.get_all_start_methods() else 1


def idle_cpus() -> int:
    """The default number of processes: the CPUs this process may run on, less those the
    1-minute load average says are busy; at least 1.

    Why not every CPU: a helper on a core that is already busy takes turns with the work there
    and gives no time back, while splitting the work costs CPU of its own (pipes, a forked copy
    of the heap). On this project's shared 2-core machine (load 7 and up) a 52k conversion with
    one helper took about a fifth more CPU than one process and no less wall time
    (BENCHMARKS.md, "Conversion as a user runs it"). ``--workers N`` still forces N."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on macOS or Windows)
        cpus = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):  # (no load average on Windows)
        busy = 0
    return max(1, cpus - busy)


# what a caller of ``decode_pieces`` makes of a piece's samples and their input lines, where
# the piece is decoded (in a helper, what it returns crosses a pipe pickled)
RowsHook = Callable[[list[Any], list[int]], Any]


def decode_pieces(
    reader: Reader,
    rows: RowsHook,
    take: Callable[[Any, int], None],
    *,
    workers: int | None = None,
) -> int:
    """Decode ``reader``'s input with ``convert``'s piece loop and worker processes, for a
    caller that makes something else than a file of another format (the studio's import).

    ``rows(samples, lines)`` runs where a piece is decoded (in a helper or here): the piece's
    good samples, made inside ``deferred_ids()``, and the input line of each (what ``reader.line``
    says while iterating). ``take(result, count)`` runs here, once per piece in input order,
    with ``rows``'s result and the number of samples. Stats, rejects and errors land on
    ``reader`` exactly as iterating it would put them. Returns the number of workers used
    (``workers`` as in ``convert``)."""
    n = _workers(workers, reader)
    job = _Job(reader, None, False, b"", rows)
    _Driver(reader, job, take, n, None).run()
    return n


# -- one piece, here or in a helper -----------------------------------------------------------
# a piece's outcome: (records read, records decoded, output blob (with ``rows``: what it
# made), values in it, rejects as
# (kind, record, error) in input order, losses, the ConversionError that stopped it or None);
# errors travel from the helpers pickled whole (see RecordError.__reduce__)
_Result = tuple[int, int, Any, int, list[tuple[str, RawRecord, SftforgeError]], dict[str, int], Any]
_FAILED: Any = None  # a window whose cut was wrong: the reader must read it again


class _Job:
    """Everything decoding a piece needs; made here, inherited by the forked helpers."""

    def __init__(
        self,
        reader: Reader,
        target: Format | None,
        allow_lossy: bool,
        joiner: bytes,
        rows: RowsHook | None = None,
    ) -> None:
        self.fmt = reader.format
        self.validate = reader.validate
        self.require_answer = reader.require_answer
        self.read_prompts = reader.read_prompts
        self.check_samples = reader.validate and reader.format.kind == "sample"
        self.target = target
        self.allow_lossy = allow_lossy
        self.joiner = joiner
        self.file = reader.source.name
        self.limit = reader.source.max_record_bytes
        self.check = reader.source.check_text
        # with ``rows`` (``decode_pieces``): ``_values`` gathers the good samples and their
        # indices here, and ``run`` hands them to ``rows`` once per piece
        self.rows = rows
        self._got: list[Any] = []
        self._lines: list[int] = []

    def run_all(self, pieces: list[Piece]) -> list[_Result | None]:
        """Pieces in order, stopping after a wrong window or a refused conversion."""
        out: list[_Result | None] = []
        with gc_paused(), deferred_ids():
            for piece in pieces:
                res = self.run(piece)
                out.append(res)
                if res is None or res[6] is not None:
                    break
        return out

    def run(self, piece: Piece) -> _Result | None:
        if self.rows is None:
            return self._run(piece)
        self._got, self._lines = [], []
        res = self._run(piece)
        if res is None:
            return res
        got, lines = self._got, self._lines
        self._got, self._lines = [], []
        return (res[0], res[1], self.rows(got, lines), len(got), res[4], res[5], res[6])

    def _run(self, piece: Piece) -> _Result | None:
        t = type(piece)
        if t is Lines:
            lines: Lines = piece  # type: ignore[assignment]
            got = lines_values(lines.data, self.limit, self.check, lines.count)
            if got is None:
                recs = lines_records(
                    lines.data, self.file, lines.line, self.limit, self.check, lines.count
                )
                return self._records(recs)
            first, lvalues = lines.line, got
            return self._values(
                got,
                lambda i: RawRecord(lvalues[i], self.file, first + i),
                lambda idx: [first + i for i in idx],
            )
        if t is Window:
            win: Window = piece  # type: ignore[assignment]
            parsed = win.values()
            if parsed is None:
                return _FAILED
            wvalues = parsed
            starts: list[int] = []

            def locate(i: int) -> RawRecord:
                if not starts:
                    starts.extend(window_starts(win.data, win.sep, win.count))
                line = win.line + win.data.count(b"\n", 0, starts[i])
                return RawRecord(wvalues[i], self.file, line)

            def lines_at(idx: list[int]) -> list[int]:
                # each element's line, counting newlines from one start to the next
                if not starts:
                    starts.extend(window_starts(win.data, win.sep, win.count))
                count, line, pos, out = win.data.count, win.line, 0, []
                for i in idx:
                    at = starts[i]
                    line += count(b"\n", pos, at)
                    pos = at
                    out.append(line)
                return out

            return self._values(wvalues, locate, lines_at)
        return self._records(piece.records)  # type: ignore[union-attr]

    def _records(self, records: list[RawRecord]) -> _Result:
        """Records already split: bad ones are rejects, runs of good ones go to ``_values``."""
        ok = 0
        blobs: list[bytes] = []
        written = 0
        events: list[tuple[str, RawRecord, SftforgeError]] = []
        losses: Counter[str] = Counter()
        i, n = 0, len(records)
        while i < n:
            rec = records[i]
            if rec.error is not None:
                events.append((getattr(rec.error, "kind", "input"), rec, rec.error))
                i += 1
                continue
            j = i
            while j < n and records[j].error is None:
                j += 1
            run = records[i:j]
            res = self._values(
                [r.value for r in run],
                run.__getitem__,
                functools.partial(_record_lines, run),
            )
            ok += res[1]
            if res[3]:
                blobs.append(res[2])
                written += res[3]
            events.extend(res[4])
            losses.update(res[5])
            if res[6] is not None:
                return (
                    i + res[0],
                    ok,
                    self.joiner.join(blobs),
                    written,
                    events,
                    dict(losses),
                    res[6],
                )
            i = j
        return (n, ok, self.joiner.join(blobs), written, events, dict(losses), None)

    def _values(
        self,
        values: list[Any],
        locate: Callable[[int], RawRecord],
        lines_at: Callable[[list[int]], list[int]],
    ) -> _Result:
        """The hot loop: parse, validate, dump and serialise each value (with ``rows``: gather
        the good samples and their lines instead). Each value gets the format's fast parse,
        and the serial reader's exact result where that fails or the sample does not
        validate; errors go to ``events``. One loop, written out (no generator step and tuple
        per record: they show in a conversion)."""
        gather = self.rows is not None
        got: list[Any] = []
        idx: list[int] = []
        dump: Any = None
        if not gather:
            assert self.target is not None
            dump = self.target.dump
        dumps = orjson.dumps
        loss = LossLog(allow=self.allow_lossy)
        out: list[bytes] = []
        put = out.append
        events: list[tuple[str, RawRecord, SftforgeError]] = []
        check, require = self.check_samples, self.require_answer
        # parse and validate in one call, which a format may fuse (Format.parse_valid)
        parse, parse_valid = self.fmt.parse, self.fmt.parse_valid
        for i, value in enumerate(values):
            try:
                obj = parse_valid(value, require) if check else parse(value)
            except Exception:
                obj = None
            if obj is None:
                obj = self._serial(value, i, locate, events)
                if obj is None:
                    continue
            if gather:
                got.append(obj)
                idx.append(i)
                continue
            try:
                put(dumps(dump(obj, loss)))
            except ConversionError as cerr:
                cerr.__traceback__ = None  # (raised again where the results are applied)
                n = len(out)  # (the refused sample was decoded too: ok is one more)
                return (i + 1, n + 1, self.joiner.join(out), n, events, dict(loss.counts), cerr)
        if gather:
            self._got.extend(got)
            self._lines.extend(lines_at(idx) if idx else [])
            return (len(values), len(got), b"", 0, events, {}, None)
        n = len(out)
        return (len(values), n, self.joiner.join(out), n, events, dict(loss.counts), None)

    def _serial(
        self,
        value: Any,
        i: int,
        locate: Callable[[int], RawRecord],
        events: list[tuple[str, RawRecord, SftforgeError]],
    ) -> Any:
        """A value the fast parse refused: the serial reader's exact result, or None after
        recording its error (or exception) as a reject event."""
        obj, kind, err = decode(
            self.fmt, value, self.validate, self.require_answer, self.read_prompts
        )
        if err is None:
            return obj
        # its traceback holds the caller's frame (all the output so far) in a reference cycle,
        # and the collector is paused here
        err.__traceback__ = None
        rec = locate(i)
        if rec.raw is None and rec.value is not None:
            rec = RawRecord(None, rec.source, rec.line, orjson.dumps(rec.value).decode())
        events.append((kind, rec, err))
        return None


# -- helper processes -------------------------------------------------------------------------
_AHEAD = 2  # tasks in flight per helper
_PIPE_BYTES = 1 << 20  # pipe buffer asked for (Linux allows up to 1 MiB without privileges)
_STALL_SECONDS = 600.0  # a helper that sends no result for this long is stuck


def _stall_seconds() -> float | None:
    """How long to wait for a helper's next result (``SFTFORGE_STALL_TIMEOUT``; 0: no limit)."""
    try:
        value = float(os.environ.get("SFTFORGE_STALL_TIMEOUT") or _STALL_SECONDS)
    except ValueError:
        value = _STALL_SECONDS
    return value if value > 0 else None


def _serve(tasks: Any, results: Any, parent_pid: int, job: _Job) -> None:
    """A helper process: run the tasks that arrive, send back their results in order.

    It ends with its parent (``exit_with_parent``): it holds the write end of its own task pipe
    (inherited at the fork), so a killed parent would never give it an EOF.

    Tasks are read and results sent by two threads, so neither side ever waits for the other
    to make room in the pipe (both sending big messages at once would deadlock) and the work
    goes on while this process's results wait to be read."""
    import queue
    import threading

    from ._orphans import exit_with_parent

    exit_with_parent(parent_pid)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                task = tasks.recv()
            except (EOFError, OSError):
                task = None
            inbox.put(task)
            if task is None:
                return

    def send() -> None:
        while True:
            item = outbox.get()
            if item is None:
                return
            try:
                results.send(item)
            except (EOFError, OSError):
                return
            except Exception as exc:  # an exception in the item that does not pickle
                results.send(("crash", RuntimeError(f"{type(exc).__name__}: {exc}")))

    threads = [threading.Thread(target=f, daemon=True) for f in (receive, send)]
    for t in threads:
        t.start()
    while True:
        task = inbox.get()
        if task is None:
            break
        try:
            # errors travel pickled whole (see RecordError.__reduce__)
            outbox.put(("ok", job.run_all(task)))
        except BaseException as exc:  # a bug, not a bad record: it stops the conversion
            outbox.put(("crash", exc))
            break
    outbox.put(None)
    threads[1].join()


class _Helper:
    """One forked helper process and its pipe; results come back in the order tasks went."""

    def __init__(self, ctx: Any, job: _Job) -> None:
        # one pipe each way, large enough for a task or two: a send then rarely waits for the
        # other side (whose reading thread may be waiting for the GIL)
        tasks_in, self.tasks = ctx.Pipe(duplex=False)
        self.results, results_out = ctx.Pipe(duplex=False)
        for conn in (self.tasks, results_out):
            with contextlib.suppress(OSError, AttributeError):  # (Linux only)
                import fcntl  # (no fork on Windows, so no helpers there)

                fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        # the job is inherited at the fork, not pickled (each call its own: no global to race
        # on when two conversions run in threads of one process)
        self.proc = ctx.Process(
            target=_serve, args=(tasks_in, results_out, os.getpid(), job), daemon=True
        )
        self.proc.start()
        tasks_in.close()
        results_out.close()
        self.busy = 0  # tasks sent and not received
        self.void = 0  # of those, tasks whose results are to be dropped (after a rollback)

    def send(self, task: list[Piece]) -> None:
        self.tasks.send(task)
        self.busy += 1

    def ready(self) -> bool:
        return self.results.poll(0)

    def receive(self) -> list[_Result | None]:
        while True:
            # a task takes well under a second; a helper silent for this long is stuck
            stall = _stall_seconds()
            if stall is not None and not self.results.poll(stall):
                raise SftforgeError(
                    f"a worker process of convert sent nothing for {stall:g} s; it was stopped.",
                    hint="run the command again (or with --workers 1); SFTFORGE_STALL_TIMEOUT"
                    " sets the limit",
                )
            try:
                kind, value = self.results.recv()
            except EOFError:
                raise SftforgeError(
                    f"a worker process of convert ended unexpectedly (exit code {self.proc.exitcode}).",
                    hint="it may have run out of memory; try --workers 1",
                ) from None
            self.busy -= 1
            if kind == "crash":
                raise value
            if self.void:
                self.void -= 1
                continue
            return value

    def close(self, ok: bool) -> None:
        if ok:
            with contextlib.suppress(OSError):
                self.tasks.send(None)
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.tasks.close()
        self.results.close()


# -- this process: cut, hand out, apply in order, write -----------------------------------------
class _Driver:
    """Cuts the input into tasks, runs them here or in helpers, applies results in order.

    With ``n`` workers there are ``n - 1`` helper processes and this process is the n-th: it
    runs a task itself whenever every helper has ``_AHEAD`` tasks to do, so it never idles
    while it has no results to apply, and only the helpers' share crosses a pipe."""

    def __init__(
        self,
        reader: Reader,
        job: _Job,
        take: Callable[[Any, int], None],
        n: int,
        progress: Progress | None,
    ) -> None:
        self.reader = reader
        self.take = take  # a piece's output, in input order: the writer's write_blob
        self.n = n
        self.job = job
        self.losses: Counter[str] = Counter()
        self.pieces: PieceStream = reader.raw_pieces()
        # tasks in input order, each with its results or the helper that has it
        self.pending: deque[tuple[list[Piece], Any]] = deque()
        self.helpers: list[_Helper] = []
        # tasks ahead of the oldest unapplied one: every helper busy, memory bounded
        self.most = max(_AHEAD * n + 2, min(4 * n, 32))
        # the progress bar: one step per piece, weighing the records it held (``_step``)
        self._step = 0
        self.ticks = (
            progress(_ticks(), reader, weight=self._weight) if progress is not None else None
        )

    def run(self) -> dict[str, int]:
        ok = False
        try:
            with gc_relaxed():  # (it freezes what exists: the helpers share it untouched)
                if self.n > 1:
                    import multiprocessing

                    ctx = multiprocessing.get_context("fork")
                    self.helpers = [_Helper(ctx, self.job) for _ in range(self.n - 1)]
                self._loop()
            ok = True
        finally:
            for helper in self.helpers:
                helper.close(ok)
            if self.ticks is not None:
                self.ticks.close()  # type: ignore[attr-defined]
        return dict(self.losses)

    def _loop(self) -> None:
        pending = self.pending
        task: list[Piece] = []
        size = 0
        while True:
            piece = next(self.pieces, None)
            if piece is not None:
                task.append(piece)
                size += _weight(piece)
                if size < _TASK_BYTES and self.helpers:
                    continue
            if task:
                self._hand_out(task)
                task, size = [], 0
            elif not pending:
                return
            rolled = False
            # apply what is done, in order; wait only when too much is ahead or at the end
            while pending and not rolled:
                if self._done(pending[0]) or piece is None or len(pending) > self.most:
                    rolled = self._collect()
                else:
                    break

    def _hand_out(self, task: list[Piece]) -> None:
        helper = min(self.helpers, key=lambda h: h.busy, default=None)
        if helper is not None and helper.busy < _AHEAD:
            helper.send(task)
            self.pending.append((task, helper))
        else:
            self.pending.append((task, self.job.run_all(task)))

    @staticmethod
    def _done(entry: tuple[list[Piece], Any]) -> bool:
        return type(entry[1]) is list or entry[1].ready()

    def _collect(self) -> bool:
        """Apply the oldest task's results; True when a window was rolled back."""
        task, got = self.pending.popleft()
        results = got if type(got) is list else got.receive()
        for piece, res in zip(task, results, strict=False):
            if res is _FAILED:
                self.pieces.rollback(piece)  # type: ignore[arg-type]
                # what was cut after the window is void: drop what helpers still send for it
                for _, other in self.pending:
                    if type(other) is _Helper:
                        other.void += 1
                self.pending.clear()
                return True
            self._apply(res)
            if type(piece) is Window:
                self.pieces.settle(piece)
            if self.ticks is not None:
                self._step = res[0]
                next(self.ticks)
        return False

    def _weight(self, _: object) -> int:
        return self._step

    def _apply(self, res: _Result) -> None:
        read, ok, blob, count, events, lost, refused = res
        reader = self.reader
        stats = reader.stats
        stats.read += read - len(events)
        stats.ok += ok
        for kind, rec, err in events:
            stats.read += 1
            reader.reject(rec, err, kind)
        if refused is not None:
            raise refused
        self.take(blob, count)
        if lost:
            self.losses.update(lost)


def _record_lines(records: list[RawRecord], idx: list[int]) -> list[int]:
    return [records[k].line for k in idx]


def _weight(piece: Piece) -> int:
    if type(piece) is Records:
        return 256 * len(piece.records)
    return len(piece.data)  # type: ignore[union-attr]


def _ticks() -> Iterator[None]:
    while True:
        yield None
