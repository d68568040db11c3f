"""Plain option values (a string, a whole number in range) taken as they are, without pydantic.

Why: typer (0.2x) coerces every parameter through a pydantic ``TypeAdapter`` it builds on first
use, so any command given a string option imports pydantic, about as long again as typer itself,
and for ``sftforge convert`` of a small file longer than the conversion. Typer builds that
coercion lazily through ``typer.core.build_runtime_param``; :func:`install` puts a step in front
of it that returns a value needing no conversion (a ``str`` for a ``str`` parameter, a decimal
``int`` within ``min``/``max``) itself (and a flag's ``True``/``False``) and hands everything else, and every error, to typer's own
coercion, built the first time it is needed. So values are the same and every message is
typer's. Typer versions without that function (before pydantic came in) are left as they are.

A ``Path`` parameter given a string goes through typer's own path checks (``coerce_cli_path``:
exists, file/dir, resolve) with the string already made a ``Path`` (what pydantic would make
of it), and a ``float`` parameter left at its float default needs nothing: ``sftforge run``
(two paths, a float budget) no longer imports pydantic, about 0.1 s of CPU per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["install"]

_MAX_DIGITS = 18  # a longer number goes to typer (int() refuses > 4300 digits with its own text)


class _PlainFirst:
    """Typer's runtime parameter for one ``str``, ``int`` or ``bool`` parameter, plain values first."""

    def __init__(self, descriptor: Any, build: Any) -> None:
        self.descriptor = descriptor
        self.build = build
        self.full: Any = None  # typer's own, built on the first value it has to see
        self.info = info = descriptor.parameter_info
        self.kind = descriptor.annotation
        self.min, self.max = info.min, info.max

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if not (param.multiple or param.nargs != 1):
            if value is None:  # as typer: an option not given and without a default
                return None
            plain = self._plain(value, param, ctx)
            if plain is not None:
                return plain
        if self.full is None:
            self.full = self.build(self.descriptor)
        return self.full.coerce(value, param=param, ctx=ctx)

    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.kind is Path:
            check = _path_check()
            if type(value) is not str or check is None:
                return None
            # typer's own checks and messages, on the Path pydantic would have made
            return check(Path(value), self.info, path_type=Path, param=param, ctx=ctx)
        if self.kind is float:  # its default only: a string goes to typer's number parsing
            if type(value) is not float or value != value:  # NaN: typer says why
                return None
            if (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max
            ):
                return None
            return value
        if self.kind is not int:  # str, or bool (a flag's own value: typer passes it through)
            return value if type(value) is self.kind else None
        if type(value) is str and value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            return None
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            return None  # typer says why, in its words
        return number


def _path_check() -> Any:
    """Typer's path checks (``typer._param_types.coerce_cli_path``), or None where this typer
    has none (then its own coercion does everything)."""
    try:
        from typer._param_types import coerce_cli_path
    except ImportError:  # pragma: no cover - another typer layout
        return None
    return coerce_cli_path


def _is_plain(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    return (
        descriptor.annotation in (str, int, bool, float, Path)
        and descriptor.file_annotation is None
        and getattr(info, "parser", None) is None
        and not getattr(info, "clamp", False)
        and getattr(info, "path_type", None) is None
    )


def install() -> None:
    """Put the plain-value step in front of typer's coercion (once; nothing on older typer)."""
    try:
        from typer import core
    except ImportError:  # pragma: no cover
        return
    build = getattr(core, "build_runtime_param", None)
    if build is None or getattr(build, "sftforge_plain_first", False):
        return

    def plain_first(descriptor: Any) -> Any:
        return _PlainFirst(descriptor, build) if _is_plain(descriptor) else build(descriptor)

    plain_first.sftforge_plain_first = True  # type: ignore[attr-defined]
    core.build_runtime_param = plain_first
