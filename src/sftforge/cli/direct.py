"""Commands run without typer when their arguments are plain.

``sftforge convert`` of a small file takes less time than importing typer and building its
command; so the entry point (``launch``) offers the arguments here first. A command listed in
``DIRECT`` declares its parameters once in ``.params`` form; :func:`run_direct` reads them with
:func:`.params.parse` and calls the command, with the same quiet handling, root option and error
lines as ``main``. Anything else (another command, ``--help``, a usage error, ``--``) returns
None and goes to typer (``main``), unchanged.
"""

from __future__ import annotations

import importlib
import os

from ._report import echo, error_line
from .launch import take_quiet
from .params import Command, parse

__all__ = ["DIRECT", "run_direct"]

DIRECT = ("convert",)  # commands with a COMMAND in .params form in their module
_S3 = "--s3-endpoint"


def run_direct(args: list[str]) -> int | None:
    """The exit code of the command ``args`` runs, or None when typer should run it."""
    if "--" in args:
        return None
    plain, quiet = take_quiet(args)
    endpoint, i = None, 0
    while i < len(plain) and plain[i].startswith("-"):  # the root options before the command
        arg = plain[i]
        if arg == _S3 and i + 1 < len(plain) and not plain[i + 1].startswith("-"):
            endpoint, i = plain[i + 1], i + 2
        elif arg.startswith(_S3 + "="):
            endpoint, i = arg[len(_S3) + 1 :], i + 1
        else:
            return None
    if i >= len(plain) or plain[i] not in DIRECT:
        return None
    command = importlib.import_module(f"sftforge.cli.{plain[i]}").COMMAND
    assert isinstance(command, Command)
    values = parse(command.params, plain[i + 1 :])
    if values is None:
        return None
    if endpoint:  # as main's root callback: read by sftforge.io.remote, also in worker processes
        os.environ["SFTFORGE_S3_ENDPOINT"] = endpoint
    return _run(command, values, quiet)


def _run(command: Command, values: dict[str, object], quiet: bool) -> int:
    """``command`` with ``values``; errors become one line and an exit code, as in ``main``."""
    from .. import progress

    progress.configure(quiet=quiet)
    try:
        command.run(**values)
    except (KeyboardInterrupt, EOFError):  # what click turns into Abort
        echo("aborted")
        return 130
    except Exception as exc:
        code = error_line(exc)
        if code is None:
            raise
        return code
    finally:
        progress.configure(
            mode="off"
        )  # the library, called after the CLI in one process, is silent
    return 0
