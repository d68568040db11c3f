"""Worker processes that end with the process that started them.

A forked worker (the pipeline's pool, convert's helpers) blocks on a queue or pipe for its next
task. When its parent dies (``kill -9``, out of memory) nothing else wakes it: the pipe's write
end may be held by the worker itself (inherited at the fork), so no EOF ever comes, and the
orphan keeps the caller's stdout open forever. ``exit_with_parent`` makes such a process end:

- on Linux the kernel sends it SIGKILL when the parent thread dies (``PR_SET_PDEATHSIG``);
- everywhere, a daemon thread checks twice a second that ``os.getppid()`` is still the pid the
  parent *gave* it. The pid must come from the parent (``os.getpid()`` before the fork): a worker
  that read its own ``getppid()`` after the parent had already died would read the pid of init
  (or a subreaper) and watch that forever.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent"]

_PR_SET_PDEATHSIG = 1
_CHECK_SECONDS = 0.5


def exit_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid`` is no longer its parent (see the module).

    Ctrl-C is the parent's to handle (it stops and kills its workers): a worker ignores SIGINT,
    so a Ctrl-C prints one line, not a traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="watch-parent").start()


def _death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(_CHECK_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(1)
