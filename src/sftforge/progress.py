"""Progress on stderr: the one place every command's bars, stage lines and info lines go through.

Three modes, chosen once per process by the CLI with ``configure`` (the library alone is silent):

- ``bar``: stderr is a terminal. Rich bars with the records done, records/s, elapsed time and an
  ETA where the size is known (bytes of the input read vs its size, chunks done vs chunks, items
  done vs items). Nested stages (a recipe stage and the LLM step inside it) share one display,
  one row each; bars vanish when their stage ends.
- ``line``: stderr is a file or a pipe (CI, ``nohup``, a log). No bars; a stage opened with
  ``line=True`` prints one plain line when it ends, and any stage still running after
  ``HEARTBEAT_S`` prints a line every ``HEARTBEAT_S`` (an LLM step of hours shows it is alive).
- ``off``: the library default, and ``--quiet``.

``SFTFORGE_PROGRESS=bar|line|off`` overrides the terminal test (bars in a pty-less log, or none).

``watch(callback)`` is the structured side of the same reports, for a program that runs the
library and shows progress its own way (the studio's jobs): inside the block, ``callback`` gets
every stage opened in this context as a dict (``Stage.view``: records done and expected, the
fraction done, rate, ETA, and what the stage's owner adds, e.g. an LLM step's calls, failures,
tokens and cost against its budget), at most every ``every`` seconds and whenever a stage starts
or ends, whatever the mode. The bars and lines show the same numbers: one report, two readers.
``note`` prints an informational line (the summaries commands print) unless ``--quiet``; errors
and warnings never go through it, so ``--quiet`` still shows them. Bars and notes only ever write
to stderr: stdout stays the commands' machine-readable output.
"""

from __future__ import annotations

import os
import sys
import time
from _thread import RLock  # threading's own (C) lock, without importing threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeVar, cast

__all__ = [
    "HEARTBEAT_S",
    "Mode",
    "Stage",
    "StageView",
    "Watcher",
    "configure",
    "current",
    "format_line",
    "is_quiet",
    "llm_text",
    "mode",
    "note",
    "stage",
    "track",
    "watch",
]

T = TypeVar("T")

Mode = Literal["bar", "line", "off"]
_MODES: tuple[Mode, ...] = ("bar", "line", "off")
HEARTBEAT_S = 30.0
_REFRESH_S = 0.1  # how often a stage pushes its numbers to the bar

_lock = RLock()
_mode: Mode = "off"
_quiet = False
_live: Any = None  # the rich Progress every open stage adds its row to (bar mode)
_open: list[Stage] = []
_WATCHER: ContextVar[Watcher | None] = ContextVar("sftforge_progress_watcher", default=None)

StageView = dict[str, Any]  # what ``Stage.view`` gives a watcher (keys: see ``Stage.view``)


def configure(*, quiet: bool = False, mode: Mode | None = None) -> Mode:
    """Pick the mode for this process: ``off`` when ``quiet``, else ``mode``, else
    ``$SFTFORGE_PROGRESS``, else ``bar`` on a terminal and ``line`` otherwise."""
    global _mode, _quiet
    forced = os.environ.get("SFTFORGE_PROGRESS", "").strip().lower()
    if quiet:
        chosen: Mode = "off"
    elif mode is not None:
        chosen = mode
    elif forced in _MODES:
        chosen = cast(Mode, forced)  # one of _MODES, checked just above
    else:
        chosen = "bar" if _isatty(sys.stderr) else "line"
    _mode, _quiet = chosen, quiet
    return chosen


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def mode() -> Mode:
    return _mode


def is_quiet() -> bool:
    return _quiet


def note(message: str) -> None:
    """An informational line on stderr, unless ``--quiet``; printed above any bars."""
    if _quiet:
        return
    with _lock:
        if _live is not None:
            _live.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()


def format_line(label: str, count: int, seconds: float, unit: str = "records") -> str:
    """The plain line a finished stage prints: ``label: 1,234 records in 2.0 s (617 records/s)``."""
    rate = count / seconds if seconds > 0 else 0.0
    return f"{label}: {count:,} {unit} in {seconds:.1f} s ({_rate(rate)} {unit}/s)"


def _rate(r: float) -> str:
    return f"{r:,.0f}" if r >= 100 else f"{r:.2f}" if r < 10 else f"{r:.1f}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Stage:
    """One unit of work being watched: ``count`` records (or items) done, and optionally ``done``
    of ``total`` in the unit the ETA is measured in (bytes, chunks; records when not set)."""

    def __init__(
        self,
        label: str,
        total: float | None,
        unit: str,
        line: bool,
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.line = line
        self.count = 0
        self.done: float | None = None
        # how many records (items) the stage will have counted when it ends, where known; its
        # ``total`` may be in bytes or chunks (the ETA's unit) instead
        self.expected: int | None = int(total) if total is not None else None
        # numbers the stage's owner adds (the executor: which stage of how many); ``extra()``,
        # when given, is asked for more each time the numbers are shown (an LLM step's usage)
        self.info: dict[str, Any] = {}
        self.extra = extra
        self.depth = 0
        self.state = "running"  # then "done", or "failed" when the stage's work raised
        self.started = time.monotonic()
        self.ended: float | None = None  # when the stage ended: its time stops there
        self._pushed = 0.0
        self._beat = self.started
        self._task: Any = None
        self._watcher: Watcher | None = None

    # -- what callers report --------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        """``n`` more records done."""
        self.count += n
        self._tick()

    def update(
        self, *, count: int | None = None, done: float | None = None, total: float | None = None
    ) -> None:
        """Set the records done, the units done toward ``total``, or the total itself."""
        if count is not None:
            self.count = count
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
            if self.done is None:  # the total is in records
                self.expected = int(total)
        self._tick()

    # -- derived numbers ------------------------------------------------------------------------
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def rate(self) -> float:
        """Records per second since the stage started."""
        t = self.elapsed()
        return self.count / t if t > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds left, from the fraction done so far; None while the size is not known."""
        done = self.count if self.done is None else self.done
        if not self.total or done <= 0:
            return None
        return max(0.0, self.elapsed() * (self.total - done) / done)

    def fraction(self) -> float | None:
        """How far the stage is, 0 to 1, in the ETA's unit; None while its size is not known."""
        if self.state == "done":
            return 1.0
        if self.total:
            done = self.count if self.done is None else self.done
            return max(0.0, min(1.0, done / self.total))
        if self.expected:
            return max(0.0, min(1.0, self.count / self.expected))
        return None

    def all_info(self) -> dict[str, Any]:
        """``info`` with the owner's ``extra()`` numbers of this moment."""
        return {**self.info, **self.extra()} if self.extra is not None else dict(self.info)

    def view(self) -> StageView:
        """The stage's numbers as plain data: ``label``, ``unit``, ``depth`` (0 for a stage
        opened inside no other), ``state`` (running, done, failed), ``count`` (records done),
        ``expected`` (records in all, or None), ``fraction`` (0-1 or None), ``elapsed``,
        ``rate`` (records/s), ``eta`` (seconds or None) and ``info``."""
        eta = self.eta() if self.state == "running" else None
        return {
            "label": self.label,
            "unit": self.unit,
            "depth": self.depth,
            "state": self.state,
            "count": self.count,
            "expected": self.expected,
            "fraction": self.fraction(),
            "elapsed": round(self.elapsed(), 3),
            "rate": round(self.rate(), 3),
            "eta": round(eta, 1) if eta is not None else None,
            "info": self.all_info(),
        }

    def status(self) -> str:
        """``1,234 records, 617 records/s, ETA 0:00:02``: the heartbeat line's numbers."""
        eta = self.eta()
        left = f", ETA {_clock(eta)}" if eta is not None else ""
        pct = ""
        if self.total and self.done is not None:
            pct = f", {100 * self.done / self.total:.0f}%"
        elif self.total:
            pct = f" of {int(self.total):,}"
        head = f"{self.count:,}{pct} {self.unit}, {_rate(self.rate())} {self.unit}/s{left}"
        llm = llm_text(self.all_info())
        return f"{head}, {llm}" if llm else head

    # -- drawing --------------------------------------------------------------------------------
    def _tick(self) -> None:
        if _mode == "off" and self._watcher is None:
            return
        now = time.monotonic()
        if self._watcher is not None:
            self._watcher.tick(now)
        if _mode == "off" or now - self._pushed < _REFRESH_S:
            return
        self._pushed = now
        self.refresh(now)

    def refresh(self, now: float | None = None) -> None:
        """Push the numbers to the bar now (bar mode), or print a heartbeat when one is due."""
        now = time.monotonic() if now is None else now
        if _mode == "bar" and self._task is not None and _live is not None:
            done = self.count if self.done is None else self.done
            eta = self.eta()
            _live.update(
                self._task,
                completed=done,
                total=self.total,
                what=self._what(),
                eta=_clock(eta) if eta is not None else "-:--:--",
            )
        elif _mode == "line" and now - self._beat >= HEARTBEAT_S:
            self._beat = now
            note(f"{self.label}: {self.status()}")

    def _what(self) -> str:
        if self.total and self.done is None:
            head = f"{self.count:,}/{int(self.total):,} {self.unit}"
        else:
            head = f"{self.count:,} {self.unit}"
        llm = llm_text(self.all_info())
        return f"{head}  {_rate(self.rate())} {self.unit}/s" + (f"  {llm}" if llm else "")


def llm_text(info: dict[str, Any]) -> str:
    """An LLM step's usage (``info["llm"]``, and ``info["items_failed"]``) as the bars and lines
    show it: ``12 calls, 1 failed, 2 items failed, 4,512 tokens, cost 0.0123; budget 9,000 of
    100,000 tokens``; empty when there is none."""
    llm = info.get("llm")
    if not isinstance(llm, dict):
        return ""
    parts = [f"{int(llm.get('calls') or 0):,} calls"]
    if llm.get("calls_failed"):
        parts.append(f"{int(llm['calls_failed']):,} failed")
    if info.get("items_failed"):
        parts.append(f"{int(info['items_failed']):,} items failed")
    parts.append(f"{int(llm.get('tokens') or 0):,} tokens")
    if llm.get("cost"):
        parts.append(f"cost {float(llm['cost']):.4g}")
    budget = llm.get("budget") or {}
    limits = []
    if budget.get("max_tokens") is not None:
        limits.append(f"{int(budget['spent_tokens']):,} of {int(budget['max_tokens']):,} tokens")
    if budget.get("max_cost") is not None:
        limits.append(f"cost {float(budget['spent_cost']):.4g} of {float(budget['max_cost']):g}")
    text = ", ".join(parts)
    return f"{text}; budget {', '.join(limits)}" if limits else text


class Watcher:
    """Who ``watch`` reports to: the stages opened in its context, the finished ones kept (the
    last ``keep``) with their final numbers, pushed at most every ``every`` seconds."""

    def __init__(self, callback: Callable[[list[StageView]], None], every: float, keep: int):
        self.callback = callback
        self.every = every
        self.keep = keep
        self.stages: list[Stage] = []
        self._lock = RLock()
        self._pushed = 0.0

    def opened(self, st: Stage) -> None:
        with self._lock:
            st.depth = sum(1 for s in self.stages if s.state == "running")
            self.stages.append(st)
            done = [s for s in self.stages if s.state != "running"]
            if len(done) > self.keep:  # the oldest finished stages go first
                gone = {id(s) for s in done[: len(done) - self.keep]}
                self.stages = [s for s in self.stages if id(s) not in gone]
        self.push()

    def tick(self, now: float) -> None:
        if now - self._pushed >= self.every:
            self.push(now)

    def push(self, now: float | None = None) -> None:
        with self._lock:
            self._pushed = time.monotonic() if now is None else now
            views = [s.view() for s in self.stages]
            self.callback(views)


def watch(
    callback: Callable[[list[StageView]], None], *, every: float = 0.5, keep: int = 32
) -> Any:
    """Report every stage opened inside the block (in this thread, and in the tasks and threads
    that copy its context) to ``callback``; see the module docstring."""
    return _watching(Watcher(callback, every, keep))


@contextmanager
def _watching(watcher: Watcher) -> Iterator[Watcher]:
    token = _WATCHER.set(watcher)
    try:
        yield watcher
    finally:
        _WATCHER.reset(token)


class _NullStage(Stage):
    """What ``current()`` gives when no stage is open: accepts reports, shows nothing."""

    def _tick(self) -> None:
        return None


def current() -> Stage:
    """The innermost open stage, for code deep inside a stage that learns how far it got (the
    reader under a recipe's ingest reports bytes read); a stage that shows nothing if none."""
    with _lock:
        return _open[-1] if _open else _NullStage("", None, "records", False)


def _start_live() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    live = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[what]}"),
        TimeElapsedColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,  # stdout is data: never let the display touch it
    )
    live.start()
    return live


@contextmanager
def stage(
    label: str,
    total: float | None = None,
    *,
    unit: str = "records",
    line: bool = False,
    extra: Callable[[], dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> Iterator[Stage]:
    """Watch one stage of work; see the module docstring for what each mode shows. ``info``
    are the owner's numbers from the start (``Stage.info``); ``extra()`` gives more each time
    they are shown."""
    global _live
    st = Stage(label, total, unit, line, extra)
    st.info.update(info or {})
    watcher = _WATCHER.get()
    if watcher is not None:
        st._watcher = watcher
        watcher.opened(st)
    with _lock:
        _open.append(st)
        if _mode == "bar":
            if _live is None:
                _live = _start_live()
            st._task = _live.add_task(label, total=total, what=st._what(), eta="-:--:--")
    failed = True
    try:
        yield st
        failed = False
    finally:
        with _lock:
            _open.remove(st)
            if st._task is not None and _live is not None:
                if _open:  # an inner stage: its row goes, the outer ones stay
                    _live.remove_task(st._task)
                else:  # the last stage: draw its final numbers once, then clear the display
                    st.refresh()
                    _live.stop()
                    _live = None
        st.state = "failed" if failed else "done"
        st.ended = time.monotonic()
        if st.extra is not None:  # the numbers as the stage ended, not as the next one goes on
            st.info.update(st.extra())
            st.extra = None
        if watcher is not None:  # the final numbers, a failed stage's as far as it got
            watcher.push()
        if _mode != "off" and st.line and not failed:  # a failed stage's error says enough
            llm = llm_text(st.all_info())
            note(
                format_line(st.label, st.count, st.elapsed(), st.unit) + (f", {llm}" if llm else "")
            )


def track(
    items: Iterable[T],
    label: str,
    *,
    sizes: Callable[[], tuple[int, int | None]] | None = None,
    total: int | None = None,
    every: int = 1024,
    unit: str = "records",
    line: bool = False,
    weight: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """Yield ``items`` inside a stage: counted one by one, the bar moved every ``every`` items.
    ``sizes()`` gives ``(bytes read, bytes in all)`` of the input being read (``Reader.progress``)
    for an ETA by bytes; ``total`` is the number of items when that is known instead.
    ``weight(item)``: how many records an item stands for, for a caller that reports them in
    batches (``convert``'s piece loop: one item per piece, not one step per record)."""
    with stage(label, total, unit=unit, line=line) as st:
        finished = False
        try:
            if weight is not None:
                yield from _weighted(st, items, weight, every, sizes)
                finished = True
                return
            for n, item in enumerate(items, 1):
                st.count = n  # cheap; the bar is moved only every `every` items
                if n % every == 0:
                    _move(st, sizes)
                yield item
            finished = True
        finally:  # also when the consumer stops early: the final numbers are the true ones
            if sizes is not None:
                done, size = sizes()  # 0 once the reader is closed: never move backwards
                st.total = size if size is not None else st.total
                st.done = st.total if finished and st.total else max(done, st.done or 0)


def _weighted(
    st: Stage,
    items: Iterable[T],
    weight: Callable[[T], int],
    every: int,
    sizes: Callable[[], tuple[int, int | None]] | None,
) -> Iterator[T]:
    """``track``'s loop for batches: the count grows by each item's weight, and the bar moves
    once the count has passed another ``every`` records."""
    mark = every
    for item in items:
        st.count += weight(item)
        if st.count >= mark:
            mark = st.count + every
            _move(st, sizes)
        yield item


def _move(st: Stage, sizes: Callable[[], tuple[int, int | None]] | None) -> None:
    """Move the bar: to the reader's bytes of its size where it tells them, else by count."""
    if sizes is not None:
        done, size = sizes()
        st.update(done=done, total=size)
    else:
        st.update()
