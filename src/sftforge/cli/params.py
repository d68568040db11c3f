"""One definition of a command's arguments and options, read by typer and by the direct path.

Why: typer and its click take longer to import and set up than ``sftforge convert`` takes to
convert a thousand records. A command that runs often on small inputs declares its parameters
here, once, without typer: :func:`typer_command` gives typer the usual ``Annotated`` signature
(so ``COMMAND --help`` and every usage error are typer's own), and :func:`parse` reads the same
declarations to call the command straight away when the arguments are plain: the positional
arguments, known options with a value, flags. Whatever it is not sure of (``--help``, an unknown
or repeated option, a missing or extra argument, a number it would not take as it is, ``--``)
gives None, and the command goes through typer, which says what is wrong in its words.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["REQUIRED", "Command", "Param", "parse", "typer_command", "typer_info"]

REQUIRED: Any = ...  # the default of a parameter that must be given
_MAX_DIGITS = 18  # a longer number goes to typer


# Param and Command are plain classes: a dataclass costs about half a millisecond of start-up
# (its methods are generated and compiled when the module is imported), and these two are
# imported by every run of ``sftforge convert``.
class Param:
    """One argument (no ``decls``) or option of a command."""

    __slots__ = ("decls", "default", "help", "kind", "metavar", "min", "name")

    def __init__(
        self,
        name: str,  # the command function's parameter
        kind: type,  # str, int or bool
        help: str,
        decls: tuple[str, ...] = (),  # option names; "--on/--off" for a flag with both
        default: Any = REQUIRED,
        metavar: str | None = None,
        min: int | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.decls = decls
        self.default = default
        self.metavar = metavar
        self.min = min

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.kind.__name__}, decls={self.decls!r})"


class Command:
    """A command: its function (called with every parameter by name) and its parameters."""

    __slots__ = ("name", "params", "run")

    def __init__(self, name: str, run: Callable[..., Any], params: tuple[Param, ...]) -> None:
        self.name = name
        self.run = run
        self.params = params

    def __repr__(self) -> str:
        return f"Command({self.name!r})"


def typer_info(param: Param) -> Any:
    """The ``typer.Argument``/``typer.Option`` of ``param``."""
    import typer

    if not param.decls:
        return typer.Argument(metavar=param.metavar, help=param.help)
    return typer.Option(*param.decls, help=param.help, min=param.min, metavar=param.metavar)


def typer_command(command: Command) -> Callable[..., Any]:
    """``command.run`` with the signature typer reads: ``Annotated[type, Argument/Option]``."""
    from typing import Annotated

    run = command.run

    def callback(**values: Any) -> Any:
        return run(**values)

    params, hints = [], {}
    for p in command.params:
        kind: Any = p.kind if p.default is not None else p.kind | None
        hints[p.name] = Annotated[kind, typer_info(p)]
        default = inspect.Parameter.empty if p.default is REQUIRED else p.default
        params.append(
            inspect.Parameter(
                p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                annotation=hints[p.name],
            )
        )  # fmt: skip
    callback.__name__ = callback.__qualname__ = command.name
    callback.__doc__ = run.__doc__
    callback.__module__ = run.__module__
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = hints
    return callback


def parse(params: Sequence[Param], args: Sequence[str]) -> dict[str, Any] | None:
    """Every parameter's value from plain ``args``, as typer would give them, or None."""
    names: dict[str, tuple[Param, bool | None]] = {}
    for p in params:
        for decl in p.decls:
            if "/" in decl:
                on, off = decl.split("/")
                names[on], names[off] = (p, True), (p, False)
            else:
                names[decl] = (p, None)
    values: dict[str, Any] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, given = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        found = names.get(name)
        if found is None or found[0].name in values:
            return None
        p, flag = found
        if p.kind is bool:
            if eq:
                return None
            values[p.name] = True if flag is None else flag
            continue
        if not eq:
            if i >= len(args) or (args[i].startswith("-") and args[i] != "-"):
                return None
            given = args[i]
            i += 1
        value = _value(p, given)
        if value is None:
            return None
        values[p.name] = value
    arguments = [p for p in params if not p.decls]
    if len(words) != len(arguments):
        return None
    values.update((p.name, word) for p, word in zip(arguments, words, strict=True))
    for p in params:
        if p.name not in values:
            if p.default is REQUIRED:
                return None
            values[p.name] = p.default
    return values


def _value(param: Param, text: str) -> Any:
    if param.kind is str:
        return text
    if param.kind is int and text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        number = int(text)
        return number if param.min is None or number >= param.min else None
    return None
