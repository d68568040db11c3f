"""The ``sftforge`` command. Thin: each command group lives in its own module and calls the library.

Errors are translated here and only here: an ``SftforgeError`` becomes one line on stderr and exit
code 1; anything else is a bug and keeps its traceback.

``--quiet`` (``-q``) is taken out of the arguments here wherever it stands (before or after the
command), so every command has it: no progress bars, stage or summary lines on stderr, only
errors and warnings (``sftforge.progress``). Without it bars show on a terminal and plain lines
otherwise.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from .. import progress
from ._plainvalues import install as install_plain_values
from ._report import error_line
from .launch import COMMANDS, take_quiet
from .params import Command, typer_command

__all__ = ["app", "main"]

install_plain_values()  # string and number options without pydantic (see _plainvalues)

app = typer.Typer(
    name="sftforge",
    help="Build, clean, convert, tokenize and hand over fine-tuning datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    s3_endpoint: str | None = typer.Option(
        None,
        "--s3-endpoint",
        help="Endpoint of an S3-compatible store for s3:// inputs and outputs (MinIO, Alibaba "
        "OSS, Tencent COS); default AWS_ENDPOINT_URL or the AWS config file.",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="no progress bars or info lines, only errors (also accepted after the command)",
    ),
) -> None:
    """Build, clean, convert, tokenize and hand over fine-tuning datasets."""
    # main() has already taken --quiet out of the arguments and configured progress; that
    # option is here so that `sftforge --help` lists it
    if s3_endpoint:
        # read by sftforge.io.remote, also in worker processes
        os.environ["SFTFORGE_S3_ENDPOINT"] = s3_endpoint


@app.command()
def version() -> None:
    """Print the sftforge version."""
    from .. import __version__

    typer.echo(__version__)


# Each module registers its commands on ``app`` when imported. One line per command group.
COMMAND_MODULES: tuple[str, ...] = (
    "convert",
    "inspect",
    "validate",
    "demo",
    "generate",
    "run",
    "tokenize",
    "lint",
    "export",
    "studio",
)
# command -> the module that registers it, where the two names differ
_HOMES = {"preview": "tokenize", "version": None}
_ROOT_VALUE_OPTIONS = ("--s3-endpoint",)  # the root options that take a value
_DECLARED: set[str] = set()  # the .params commands registered so far


def _command_name(argv: list[str]) -> str | None:
    """The command ``argv`` runs (the first word after the root options), or None."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _ROOT_VALUE_OPTIONS:
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            return arg
    return None


def _load_commands(argv: list[str] | None = None) -> None:
    """Register the command ``argv`` runs, or every command (help, an unknown name, no ``argv``).

    Why only one: building a command imports what its options need (typer's parameter types,
    the command's own module and its imports); ``sftforge convert`` should not pay for
    ``tokenize``'s. The help and the error for an unknown command list them all."""
    name = _command_name(argv) if argv is not None else None
    if name is not None and (name in COMMAND_MODULES or name in _HOMES):
        home = _HOMES.get(name, name)
        homes = [] if home is None else [home]
    else:
        homes = list(COMMAND_MODULES)
    for home in homes:
        module = importlib.import_module(f"sftforge.cli.{home}")
        # a command declared in .params form (typer-free, for the direct path) is registered here
        command = getattr(module, "COMMAND", None)
        if isinstance(command, Command) and command.name not in _DECLARED:
            app.command()(typer_command(command))
            _DECLARED.add(command.name)
    # the help lists commands in registration order: keep it the same whatever ran first
    order = {name: i for i, name in enumerate(_ORDER)}
    app.registered_commands.sort(key=lambda c: order.get(_registered_name(c), len(order)))


# the order of ``sftforge --help``: the fast top-level help's (a test keeps the two equal)
_ORDER = tuple(name for name, _ in COMMANDS)


def _registered_name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    callback = info.callback
    return callback.__name__.lower().replace("_", "-") if callback is not None else ""


def main(argv: list[str] | None = None) -> int:
    argv, quiet = take_quiet(list(sys.argv[1:] if argv is None else argv))
    _load_commands(argv)
    progress.configure(quiet=quiet)
    try:
        return _run(argv)
    finally:
        progress.configure(
            mode="off"
        )  # the library, called after the CLI in one process, is silent


def _run(argv: list[str]) -> int:
    try:
        rc = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:
        code = error_line(exc)  # SftforgeError, OSError: one line
        if code is not None:
            return code
        # usage errors (unknown option, missing argument): typer's click, vendored or not
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            return int(exc.exit_code)
        raise
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # run as ``python -m sftforge``, not this module: see __main__.py
    sys.exit(main())
