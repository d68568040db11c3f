"""What every reading command prints and decides, without typer: the reading progress bar and
the read/write summary (``sftforge.progress``), the rejects warning, and the bad-record policy
(skip to a rejects file by default, ``--strict`` stops at the first; ``--on-error skip|raise``
is the older spelling)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import SftforgeError
from ..progress import note, track

if TYPE_CHECKING:
    from ..api import Reader

__all__ = [
    "echo",
    "error_line",
    "error_policy",
    "max_record_options",
    "notices",
    "progress",
    "rejects_summary",
    "summary",
]

_EVERY = 2048


def echo(message: str, err: bool = True) -> None:
    """One line on stderr (or stdout), flushed: what ``typer.echo`` does with plain text."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def error_policy(strict: bool, on_error: str | None) -> str:
    """``raise`` with ``--strict`` or ``--on-error raise``, else ``skip`` (the default)."""
    if on_error is not None and on_error not in ("raise", "skip"):
        raise SftforgeError(f"unknown --on-error '{on_error}'.", hint="use raise or skip")
    return "raise" if strict or on_error == "raise" else "skip"


def rejects_summary(
    rejected: int, read: int, by_reason: dict[str, int], path: str | None, first: str | None
) -> None:
    """The loud part of a run that rejected records: how many, why, where they are, the first."""
    if not rejected:
        return
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items(), key=lambda kv: -kv[1]))
    where = f"; each with file, line, reason and raw text in {path}" if path else ""
    echo(f"warning: {rejected} of {read} records rejected ({reasons}){where}", err=True)
    if first:
        echo(f"  first: {first}", err=True)


def notices(found: list[Any]) -> None:
    """Problems in the file that are not records (stray commas), one warning line each."""
    for n in found:
        echo(f"warning: {n}", err=True)


def max_record_options(mb: int | None) -> dict[str, Any]:
    """The reader option for ``--max-record-mb`` (nothing when not given: the default applies)."""
    return {} if mb is None else {"max_record_bytes": mb * 2**20}


def progress(
    items: Iterable[Any],
    reader: Reader,
    label: str = "reading",
    *,
    weight: Callable[[Any], int] | None = None,
) -> Iterator[Any]:
    """Yield ``items``, showing progress by bytes of ``reader``'s input (``sftforge.progress``);
    ``weight(item)``: the records an item stands for (default: one each)."""
    return track(items, label, sizes=reader.progress, every=_EVERY, weight=weight)


def summary(read: int, written: int, rejected: int, losses: dict[str, int] | None = None) -> None:
    """The line every run prints: ``read N = written W + rejected R`` (to stderr)."""
    note(f"read {read} = written {written} + rejected {rejected}")
    if losses:
        lost = ", ".join(f"{k} {v}" for k, v in sorted(losses.items()))
        note(f"lost (--allow-lossy): {lost}")


def error_line(exc: BaseException) -> int | None:
    """For an error a user caused or can fix - an ``SftforgeError``, an ``OSError`` (disk full,
    permission denied, a symlink loop) - print its one line and give the exit code 1; None for
    anything else (a bug keeps its traceback). The typer path and the direct path both use it."""
    if isinstance(exc, SftforgeError):
        echo(f"error: {exc}")
        return 1
    if isinstance(exc, OSError):
        from ..oserrors import os_error

        echo(f"error: {os_error(exc)}")
        return 1
    return None
