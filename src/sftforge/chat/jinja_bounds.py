"""Bounds on one chat-template render: time, output size, loop iterations and call depth.

A chat template is code from whoever published the tokenizer (or a user's ``--template``), run in
Jinja's sandbox. The sandbox blocks escapes but not denial of service: nested loops over
``range(100000)``, ``'x' * 10**9``, ``10**10**10``, ``'%999999999d' % 1`` or endless macro
recursion hang or kill the process. :class:`BoundedEnvironment` bounds them:

* every ``{% for %}`` iterates through a counter (the parsed template is rewritten so each loop's
  iterable is wrapped): at most ``Bounds.iterations`` steps in one render, in all loops together;
* every call made from the template (functions, methods, macros, recursive ``loop()``) counts its
  nesting depth (at most ``Bounds.depth``) and refuses integer arguments above ``Bounds.chars``
  (``'x'.ljust(10**9)``, ``center``, ``indent``...); results longer than ``Bounds.chars`` fail;
* filters get the same argument and result checks;
* ``*``, ``**`` and ``%`` are checked before they run (sizes, exponents, format widths);
* namespace attributes longer than ``Bounds.chars`` fail (doubling a string in a loop);
* the rendered output is counted as it is produced (``render`` and ``generate`` both), and the
  wall clock is checked on every loop step, call and output chunk: at most ``Bounds.seconds``
  per render.

Exceeding a bound raises :class:`TemplateBoundError` (a ``jinja2.TemplateError``); the renderer
turns it into a one-line ``TemplateError`` for that sample. The budget is per render and per
thread (``start``/``stop`` around each render).
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

__all__ = [
    "DEFAULT_BOUNDS",
    "BoundedEnvironment",
    "BoundedTemplate",
    "Bounds",
    "TemplateBoundError",
]


@dataclass(frozen=True, slots=True)
class Bounds:
    """Limits for one render. Real templates use a tiny fraction of each."""

    seconds: float = 5.0
    chars: int = 16_000_000  # rendered output and any one value
    iterations: int = 1_000_000  # loop steps, all loops together
    depth: int = 100  # nested calls (macros, recursive loops)


DEFAULT_BOUNDS = Bounds()
_ITER_NAME = "sftforge_bounded_iter"
# a width or precision of a million or more: in a %-format, and in a str.format field
_WIDE_PERCENT = re.compile(r"%[-+ #0]*(\d{7,}|[\d*]*\.\d{7,})")
_WIDE_FIELD = re.compile(r"\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_CHECK_EVERY = 1024
# Attributes the sandbox judges by the object's exact type and the name alone: a key read as an
# attribute (``message.role``), str methods other than the format ones, the loop variables
# (``loop.index0``) and namespace attributes are what templates read most, and the sandbox's
# generic checks cost more than the render itself. ``BoundedEnvironment.getattr`` answers these
# as the sandbox would (tests/chat/test_jinja_bounds.py compares the two).
_DICT_ATTRS = frozenset(dir(dict))
# values whose length is bounded (a tuple, not ``str | list | ...``: the union would be built
# again on every call, and this runs on every value a call or filter returns)
_MEASURED = (str, list, tuple, dict)
_SEQUENCES = (str, list, tuple)
_STR_METHODS = frozenset(n for n in dir(str) if not n.startswith("_")) - {"format", "format_map"}
_LOOP_ATTRS = frozenset(n for n in dir(LoopContext) if not n.startswith("_"))
_BUILTIN_METHOD = type("".strip)


class TemplateBoundError(jinja2.exceptions.TemplateError):
    """The template went past one of its bounds."""


class _Budget(threading.local):
    def __init__(self) -> None:
        self.bounds = DEFAULT_BOUNDS
        self.deadline = float("inf")
        self.steps = 0
        self.depth = 0


_budget = _Budget()


def _check_time() -> None:
    if time.monotonic() > _budget.deadline:
        raise TemplateBoundError(f"the template ran longer than {_budget.bounds.seconds:g} s")


def _bounded_iter(iterable: Any) -> Any:
    budget = _budget
    limit = budget.bounds.iterations
    for item in iterable:
        budget.steps += 1
        if budget.steps % _CHECK_EVERY == 0:
            if budget.steps > limit:
                raise TemplateBoundError(f"the template's loops ran more than {limit} steps")
            _check_time()
        yield item


def _check_size(value: Any) -> Any:
    if isinstance(value, _MEASURED) and len(value) > _budget.bounds.chars:
        raise TemplateBoundError(
            f"the template built a value longer than {_budget.bounds.chars} characters or items"
        )
    return value


def _check_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    limit = _budget.bounds.chars
    for a in (*args, *kwargs.values()):
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > limit:
            raise TemplateBoundError(f"the template passed {a} (more than {limit}) to a call")


def _sized(x: Any) -> bool:
    return isinstance(x, _SEQUENCES)


class _BoundedNamespace(Namespace):
    """``namespace()``: values longer than the bound fail; no underscore names (as transformers)."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        self, rest = args[0], args[1:]
        attrs = dict(*rest, **kwargs)
        for name, value in attrs.items():
            _BoundedNamespace._check(name, value)
        Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _BoundedNamespace._check(name, value)
        Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any, value: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"a namespace cannot hold the underscore-prefixed attribute {name!r}"
            )
        _check_size(value)


def _bounded_filter(func: Any) -> Any:
    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context...) for the filter machinery
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_args(args[1:], kwargs)
        return _check_size(func(*args, **kwargs))

    return bounded


class BoundedTemplate(jinja2.Template):
    """A template whose ``generate`` (chunk by chunk, as transformers renders for assistant
    masks) is bounded in output size and time like ``render``."""

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        budget = _budget
        size = 0
        for i, chunk in enumerate(super().generate(*args, **kwargs)):
            size += len(chunk)
            if size > budget.bounds.chars:
                raise TemplateBoundError(
                    f"the template rendered more than {budget.bounds.chars} characters"
                )
            if i % _CHECK_EVERY == _CHECK_EVERY - 1:
                _check_time()
            yield chunk


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the bounds above."""

    intercepted_binops = frozenset(["*", "**", "%"])
    template_class = BoundedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals[_ITER_NAME] = _bounded_iter
        self.globals["namespace"] = _BoundedNamespace
        self.concat = _bounded_concat  # type: ignore[method-assign]

    def bound_filters(self) -> None:
        """Wrap every filter registered so far (call after adding the environment's own)."""
        for name, func in list(self.filters.items()):
            self.filters[name] = _bounded_filter(func)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.Name(_ITER_NAME, "load"), [loop.iter], [], None, None, lineno=loop.lineno
            )
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limit = _budget.bounds.chars
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if _sized(seq) and isinstance(n, int) and len(seq) * n > limit:
                    raise TemplateBoundError(f"the template repeats a value past {limit} items")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * abs(left).bit_length() > 64 * 1024
            ):
                raise TemplateBoundError(f"the template computes {left} ** {right}")
        elif operator == "%" and isinstance(left, str) and _WIDE_PERCENT.search(left):
            raise TemplateBoundError("the template formats with a width of a million or more")
        return _check_size(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRS:
            # the sandbox: no such attribute, so the item, else undefined
            try:
                return obj[attribute]
            except LookupError:
                return self.undefined(obj=obj, name=attribute)
        if (kind is str and attribute in _STR_METHODS) or (
            kind is LoopContext and attribute in _LOOP_ATTRS
        ):
            try:
                return getattr(obj, attribute)  # public, never a format method: safe
            except AttributeError:
                pass
        elif kind is _BoundedNamespace and not attribute.startswith("_"):
            try:
                value = getattr(obj, attribute)  # a stored value: a str.format one is wrapped
            except AttributeError:
                pass
            else:
                fmt = self.wrap_str_format(value)
                return value if fmt is None else fmt
        return super().getattr(obj, attribute)

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        if (
            isinstance(owner, str)
            and getattr(value, "__name__", "") in ("format", "format_map")
            and _WIDE_FIELD.search(owner)
        ):
            raise TemplateBoundError("the template formats with a width of a million or more")
        return super().wrap_str_format(value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget
        if budget.depth >= budget.bounds.depth:
            raise TemplateBoundError(f"the template nested calls deeper than {budget.bounds.depth}")
        _check_time()
        _check_args(args, kwargs)
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            hits = owner.count(old) if isinstance(old, str) and old else len(owner) + 1
            if isinstance(new, str) and len(owner) + hits * len(new) > budget.bounds.chars:
                raise TemplateBoundError("the template's replace() would grow past the bound")
        budget.depth += 1
        try:
            if type(__obj) is _BUILTIN_METHOD and type(owner) is str:
                # a str method (format ones arrive wrapped, as Python functions): what the
                # sandbox's call ends in; its checks for unsafe or context-taking callables
                # look for attributes a built-in method cannot carry
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
                return _check_size(__obj(*args, **kwargs))
            return _check_size(
                ImmutableSandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
            )
        finally:
            budget.depth -= 1


def _bounded_concat(chunks: Any) -> str:
    budget = _budget
    limit = budget.bounds.chars
    parts: list[str] = []
    size = 0
    for i, chunk in enumerate(chunks):
        size += len(chunk)
        if size > limit:
            raise TemplateBoundError(f"the template rendered more than {limit} characters")
        if i % _CHECK_EVERY == _CHECK_EVERY - 1:
            _check_time()
        parts.append(chunk)
    return "".join(parts)


def start(bounds: Bounds = DEFAULT_BOUNDS) -> None:
    """Begin one render's budget on this thread."""
    _budget.bounds = bounds
    _budget.deadline = time.monotonic() + bounds.seconds
    _budget.steps = 0
    _budget.depth = 0


def stop() -> None:
    """End the render's budget (renders outside start/stop are bounded in size only)."""
    _budget.deadline = float("inf")
    _budget.depth = 0
