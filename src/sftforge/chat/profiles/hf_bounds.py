"""transformers' ``apply_chat_template``, with every render bounded: what ``trl`` and ``axolotl`` use.

Those two profiles reproduce TRL's and axolotl's preprocessing, which render with transformers'
``apply_chat_template``; its Jinja environment (``chat_template_utils._compile_jinja_template``)
is sandboxed but has no bounds, so a template that loops over a long message, repeats a string by
a content length or recurses on the data hangs or kills the run on that one sample.

Here ``apply_chat_template`` runs unchanged (its message normalisation, tool handling, batching,
tokenization and assistant masks are transformers' own) except for the compile step: the template
is compiled in a :class:`~sftforge.chat.jinja_bounds.BoundedEnvironment` copied from the
environment transformers builds for it (same lexer options, ``trim_blocks``/``lstrip_blocks``,
extensions - its ``{% generation %}`` tracker included -, filters such as its ``tojson``, tests
and globals such as ``raise_exception``, ``strftime_now`` and ``dict``; ``namespace`` is ours,
which refuses underscore names as transformers' does and also bounds value sizes). The bounds only
refuse; what a template renders within them is the same text, so the profiles' ids and labels are
unchanged (their oracle tests pin them).

How the compile step is swapped: transformers looks the compile function up in its module at every
call. It is wrapped once; the wrapper returns the bounded compile only inside
:func:`bounded_apply`, on that thread, for that template text; everywhere else it is transformers'
own. Each conversation rendered gets its own budget (``Bounds``: time, output size, loop steps,
call depth). A render that goes past a bound raises :class:`~sftforge.chat.render.BoundsExceeded`,
any other error the template raises a :class:`~sftforge.errors.TemplateError`, both one line: the
profiles reject that sample with it as the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import jinja2

from ...errors import TemplateError
from .. import jinja_bounds
from ..jinja_bounds import DEFAULT_BOUNDS, BoundedEnvironment, BoundedTemplate, Bounds
from ..jinja_bounds import TemplateBoundError as _BoundError
from ..render import PROBE_CONVERSATION, BoundsExceeded

__all__ = ["bounded_apply", "bounded_compile", "check_bounds"]

# (template text, bounds, name) of the bounded render running on this thread, if any
_active: ContextVar[tuple[str, Bounds, str] | None] = ContextVar("sftforge_hf_bounds", default=None)
_install_lock = threading.Lock()
_original: Any = None

# the Environment options that shape parsing and output, copied from transformers' environment
_OPTIONS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "undefined",
    "finalize",
    "autoescape",
)


def _failure(exc: BaseException, name: str) -> TemplateError:
    if isinstance(exc, _BoundError):
        return BoundsExceeded(f"chat template '{name}' exceeded its bounds: {exc}")
    if isinstance(exc, RecursionError | MemoryError):
        return BoundsExceeded(f"chat template '{name}' exceeded its bounds: {type(exc).__name__}")
    if isinstance(exc, jinja2.TemplateError):
        return TemplateError(f"chat template '{name}' failed: {exc}")
    # a template is user code: any error it raises is about the conversation it rendered
    return TemplateError(f"chat template '{name}' failed: {type(exc).__name__}: {exc}")


def _active_bounds() -> tuple[Bounds, str]:
    active = _active.get()
    return (active[1], active[2]) if active else (DEFAULT_BOUNDS, "chat_template")


class _PerRenderTemplate(BoundedTemplate):
    """Each ``render``/``generate`` (one conversation) runs on a fresh budget; its failure comes
    out as one sftforge error, so the caller can tell it from transformers' own errors."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        bounds, name = _active_bounds()
        jinja_bounds.start(bounds)
        try:
            return super().render(*args, **kwargs)
        except Exception as exc:
            raise _failure(exc, name) from exc
        finally:
            jinja_bounds.stop()

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        bounds, name = _active_bounds()
        jinja_bounds.start(bounds)
        try:
            yield from super().generate(*args, **kwargs)
        except Exception as exc:
            raise _failure(exc, name) from exc
        finally:
            jinja_bounds.stop()


@lru_cache(maxsize=16)
def bounded_compile(chat_template: str) -> jinja2.Template:
    """``chat_template`` compiled as transformers compiles it, in a bounded environment."""
    _install()
    hf_env = _original(chat_template).environment  # transformers' own (compiling runs nothing)
    env = BoundedEnvironment(
        **{k: getattr(hf_env, k) for k in _OPTIONS},
        extensions=[type(ext) for ext in hf_env.extensions.values()],
    )
    for name, func in hf_env.filters.items():
        if env.filters.get(name) is not func:
            env.filters[name] = func
    env.bound_filters()
    for name, test in hf_env.tests.items():
        env.tests.setdefault(name, test)
    for name, value in hf_env.globals.items():
        if name != "namespace":  # ours: transformers' underscore rule plus the size bound
            env.globals[name] = value
    env.policies.update(hf_env.policies)
    env.template_class = _PerRenderTemplate
    return env.from_string(chat_template)


def _install() -> None:
    """Wrap transformers' compile step once (see the module doc)."""
    global _original
    with _install_lock:
        if _original is not None:
            return
        from transformers.utils import chat_template_utils as hf

        original = hf._compile_jinja_template

        def compile_jinja_template(chat_template: Any) -> Any:
            active = _active.get()
            if active is not None and chat_template == active[0]:
                return bounded_compile(chat_template)
            return original(chat_template)

        compile_jinja_template.cache_clear = original.cache_clear  # type: ignore[attr-defined]
        compile_jinja_template.__wrapped__ = original  # type: ignore[attr-defined]
        _original = original
        hf._compile_jinja_template = compile_jinja_template  # type: ignore[assignment]


def _compile(chat_template: str, name: str) -> None:
    try:
        bounded_compile(chat_template)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"chat template '{name}' syntax error at line {exc.lineno}: {exc.message}",
            field="template",
        ) from exc


def bounded_apply(
    tokenizer: Any,
    conversation: Any,
    *,
    chat_template: str,
    bounds: Bounds = DEFAULT_BOUNDS,
    name: str = "chat_template",
    **kwargs: Any,
) -> Any:
    """``tokenizer.apply_chat_template(conversation, chat_template=..., **kwargs)`` with each
    conversation's render bounded. Raises ``BoundsExceeded`` past a bound, ``TemplateError`` when
    the template raises (both name ``name``); transformers' own errors pass through."""
    _compile(chat_template, name)
    token = _active.set((chat_template, bounds, name))
    try:
        return tokenizer.apply_chat_template(conversation, chat_template=chat_template, **kwargs)
    finally:
        _active.reset(token)


def check_bounds(tokenizer: Any, chat_template: str, name: str) -> None:
    """Render the probe conversation through :func:`bounded_apply`: a template that goes past its
    bounds there would on every sample, so this raises ``BoundsExceeded`` (the run stops in one
    line), as does a syntax error; any other error the template raises on the probe is left to
    the samples (it may be about the probe's system turn, say)."""
    _compile(chat_template, name)  # a syntax error fails every sample: the run stops
    messages = [dict(m) for m in PROBE_CONVERSATION]
    try:
        bounded_apply(
            tokenizer,
            messages,
            chat_template=chat_template,
            name=name,
            tokenize=False,
            add_generation_prompt=True,
        )
    except BoundsExceeded:
        raise
    except TemplateError:
        pass
