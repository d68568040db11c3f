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
from typing import Any, Literal, TypeVar, cast

__all__ = [
    "HEARTBEAT_S",
    "Mode",
    "Stage",
    "configure",
    "current",
    "format_line",
    "is_quiet",
    "mode",
    "note",
    "stage",
    "track",
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

    def __init__(self, label: str, total: float | None, unit: str, line: bool) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.line = line
        self.count = 0
        self.done: float | None = None
        self.started = time.monotonic()
        self._pushed = 0.0
        self._beat = self.started
        self._task: Any = None

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
        self._tick()

    # -- derived numbers ------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

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

    def status(self) -> str:
        """``1,234 records, 617 records/s, ETA 0:00:02``: the heartbeat line's numbers."""
        eta = self.eta()
        left = f", ETA {_clock(eta)}" if eta is not None else ""
        pct = ""
        if self.total and self.done is not None:
            pct = f", {100 * self.done / self.total:.0f}%"
        elif self.total:
            pct = f" of {int(self.total):,}"
        return f"{self.count:,}{pct} {self.unit}, {_rate(self.rate())} {self.unit}/s{left}"

    # -- drawing --------------------------------------------------------------------------------
    def _tick(self) -> None:
        if _mode == "off":
            return
        now = time.monotonic()
        if now - self._pushed < _REFRESH_S:
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
        return f"{head}  {_rate(self.rate())} {self.unit}/s"


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
    label: str, total: float | None = None, *, unit: str = "records", line: bool = False
) -> Iterator[Stage]:
    """Watch one stage of work; see the module docstring for what each mode shows."""
    global _live
    st = Stage(label, total, unit, line)
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
        if _mode != "off" and st.line and not failed:  # a failed stage's error says enough
            note(format_line(st.label, st.count, st.elapsed(), st.unit))


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
                    if sizes is not None:
                        done, size = sizes()
                        st.update(done=done, total=size)
                    else:
                        st.update()
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
            if sizes is not None:
                done, size = sizes()
                st.update(done=done, total=size)
            else:
                st.update()
        yield item
