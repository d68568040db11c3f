"""Checking option values against the dataclass fields they fill, before anything runs.

Operators, generators and ``LLMConfig`` are dataclasses whose fields are their options, so the
field annotations already say what each option takes. ``check_options`` walks a value against
its annotation (``int``, ``float``, ``bool``, ``str``, ``None``, unions, ``Literal``, lists,
tuples, sequences, sets and dicts, nested to any depth) and raises a ``RecipeError`` naming the
key path (``steps[3].length_filter.min``, ``split.ratios.train``) and what to write instead.
Without it a wrong type surfaces mid-run as a ``TypeError`` (``min: 'two'``) or, worse, works
on the wrong thing (a nested list turned into one huge regular expression). The walk visits at
most ``MAX_NODES`` values, so a value that expands to millions of items is refused, not walked.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import functools
import sys
import types
import typing
from pathlib import Path
from typing import Any

from ..errors import RecipeError

__all__ = ["MAX_NODES", "check_options", "field_types"]

MAX_NODES = 100_000

_NONE = type(None)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls``'s fields (unresolvable ones are left out); cached,
    since workers build their operators again for every chunk."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        scope = {**vars(typing), **vars(abc), **(vars(module) if module else {})}
        for name, ann in vars(klass).get("__annotations__", {}).items():
            try:  # (the annotation is our own source text, never user input)
                hints[name] = eval(ann, scope) if isinstance(ann, str) else ann
            except Exception:  # an annotation we cannot resolve is not checked
                hints.pop(name, None)
    return hints


def check_options(cls: type, options: dict[str, Any], where: str) -> None:
    """Raise ``RecipeError`` for the first option of ``options`` whose value ``cls`` cannot take.

    ``where`` names the owner in messages (``operator 'length_filter'``, ``llm``); the error's
    ``field`` is the key path under it.
    """
    hints = field_types(cls)
    budget = [MAX_NODES]
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in options or f.name not in hints:
            continue
        value = options[f.name]
        bad = _mismatch(value, hints[f.name], f.name, budget)
        if bad is None:
            continue
        path, expected, got = bad
        if budget[0] < 0:
            raise RecipeError(
                f"{where}: option '{f.name}' holds more than {MAX_NODES} values (YAML aliases "
                "that expand to a huge structure?).",
                field=f.name,
                hint="write the value out plainly; recipes are not for data",
            )
        default = _default(f) if path == f.name else dataclasses.MISSING
        example = "" if default is dataclasses.MISSING else f" (the default is {_yaml(default)})"
        raise RecipeError(
            f"{where}: '{path}' must be {expected}, not {got}.",
            field=path,
            hint=f"set '{path}' to {expected}{example}",
        )


def _yaml(value: Any) -> str:
    """A default as it would be written in YAML."""
    import yaml

    return (
        str(yaml.safe_dump(_plain(value), default_flow_style=True, width=1 << 20))
        .strip()
        .removesuffix("\n...")
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _show(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, (dict, list)) else text


def _mismatch(value: Any, tp: Any, path: str, budget: list[int]) -> tuple[str, str, str] | None:
    """``(key path, what was expected, what was given)`` of the first mismatch, or None."""
    budget[0] -= 1
    if budget[0] < 0:
        return path, "a small value", "a value too large to check"
    if tp is Any or tp is object:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        for a in args:
            trial = [budget[0]]
            if _mismatch(value, a, path, trial) is None:
                budget[0] = trial[0]
                return None
        # name the inner mismatch when only one branch has the value's container type
        same = [a for a in args if _outer_fits(value, a)]
        if len(same) == 1:
            return _mismatch(value, same[0], path, budget)
        return path, " or ".join(_describe(a) for a in args), _show(value)
    if origin is typing.Literal:
        if value in args and all(type(value) is type(a) for a in args if a == value):
            return None
        return path, "one of " + ", ".join(repr(a) for a in args), _show(value)
    if tp is _NONE or tp is None:
        return None if value is None else (path, "null", _show(value))
    if not _outer_fits(value, tp):
        return path, _describe(tp), _show(value)
    if origin in (dict, abc.Mapping, abc.MutableMapping) and len(args) == 2:
        for k, v in value.items():
            bad = _mismatch(k, args[0], f"{path} (key {k!r})", budget) or _mismatch(
                v, args[1], f"{path}.{k}", budget
            )
            if bad is not None:
                return bad
        return None
    if origin in (list, set, frozenset, abc.Sequence, abc.Iterable, abc.Collection, tuple):
        inner = args[0] if args else Any
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                return path, _describe(tp), _show(value)
            pairs = list(zip(value, args, strict=True))
        else:
            pairs = [(v, inner) for v in value]
        for i, (v, t) in enumerate(pairs):
            bad = _mismatch(v, t, f"{path}[{i}]", budget)
            if bad is not None:
                return bad
    return None


def _outer_fits(value: Any, tp: Any) -> bool:
    """Whether ``value`` has the outer type of ``tp`` (ignoring what is inside)."""
    origin = typing.get_origin(tp) or tp
    if origin is typing.Union or origin is types.UnionType:
        return any(_outer_fits(value, a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is Any or tp is object:
        return True
    if tp is _NONE or tp is None:
        return value is None
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is str:
        return isinstance(value, str)
    if origin is Path:
        return isinstance(value, (str, Path))
    if origin in (dict, abc.Mapping, abc.MutableMapping):
        return isinstance(value, dict)
    if origin in (list, tuple, set, frozenset, abc.Sequence, abc.Iterable, abc.Collection):
        return isinstance(value, (list, tuple, set, frozenset))
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True  # Callable and other forms: not checked here


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if tp is _NONE or tp is None:
        return "null"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if origin in names:
        return names[origin]
    if origin is Path:
        return "a path"
    if origin in (dict, abc.Mapping, abc.MutableMapping):
        if len(args) == 2:
            return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
        return "a mapping"
    if origin in (list, tuple, set, frozenset, abc.Sequence, abc.Iterable, abc.Collection):
        if args and args[0] is not Any:
            return f"a list of {_plural(_describe(args[0]))}"
        return "a list"
    return getattr(origin, "__name__", str(tp))


def _plural(desc: str) -> str:
    for article in ("an ", "a "):
        if desc.startswith(article):
            return desc[len(article) :] + "s"
    return desc
