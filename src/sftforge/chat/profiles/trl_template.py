"""The chat template TRL trains with: decided once, for ``export --for trl`` and ``tokenize
--profile trl`` alike.

TRL 1.16's ``SFTTrainer`` with ``assistant_only_loss=True`` computes the loss on the tokens inside
the template's ``{% generation %}`` spans (transformers' ``return_assistant_tokens_mask``). A
template without those marks is swapped for one of TRL's own training templates when it is one
TRL knows (``trl.chat_template_utils.get_training_chat_template``, compared text for text);
any other template stops the trainer at start ("The chat template is not training-compatible").
Almost no published template has the marks, so :func:`decide_trl_template` gives TRL one that has
them: a **marked copy** of the model's template (:func:`marked_copy`), shipped with the export as
``chat_template.jinja`` and named by ``chat_template_path`` (TRL reads a ``.jinja`` path as the
template text).

The marked copy renders exactly what the original renders (the original is its macro); it only
adds the marks, and finds where they go by rendering, as :mod:`sftforge.chat.unmarked` does: the
assistant message at index ``i`` is trained from the end of ``prompt`` (the messages before ``i``
rendered with ``add_generation_prompt=True``: what the model sees before it writes the turn) to the
end of ``upto`` (the messages up to ``i``) less trailing whitespace, when both are prefixes of
the whole conversation's render. A turn the template renders differently once later turns
follow (it drops a history turn's reasoning, say) is left untrained, as at inference it is never
written that way; a conversation left with no trained turn is one TRL refuses ("at least one
example has no assistant tokens"), so the profile rejects it and the export leaves it out.

Before it is used the copy is checked on probe conversations (:func:`check_marked`): its text
must equal the original's and the last answer must be trained, the questions not (earlier answers
a template rewrites, dropping their reasoning say, are left untrained and the export says so).
When it cannot be used (no template, a template whose text before an answer is not what it
writes as the generation prompt, a template that fails on the probes), an explicit
``assistant_only_loss=true`` is refused with the reason; the export's own default falls back to
``assistant_only_loss=False`` (TRL's default: every token trained) and says so in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import TemplateError
from ..templates import (
    has_generation_marks,
    resolve_template,
)  # the test TRL makes (has_generation_markers)
from .hf_bounds import bounded_apply

__all__ = [
    "MARKED_BY",
    "MarkCheck",
    "TrlTemplate",
    "check_marked",
    "decide_trl_template",
    "given_template",
    "marked_copy",
]

MARKED_BY = "{#- generation marks added by sftforge (export --for trl) -#}"

# The wrapper: the original template is the body of a macro (so the copy renders what it renders,
# with every render-time variable - tools, bos_token, enable_thinking... - visible to it); the
# whole conversation is rendered once and written out in pieces, each assistant turn's piece
# inside {% generation %}. Written without text between tags: trim_blocks/lstrip_blocks (on in
# transformers' environment) then have no whitespace to change.
_WRAPPER = (
    "{% if add_generation_prompt %}{{ sftforge_render(messages, true) }}{% else %}"
    "{% set full = sftforge_render(messages, false) | string %}"
    "{% set ns = namespace(at=0) %}"
    "{% for m in messages %}{% if m.role == 'assistant' %}"
    "{% set prompt = sftforge_render(messages[:loop.index0], true) | string %}"
    "{% set upto = sftforge_render(messages[:loop.index], false) | string %}"
    "{% set start = prompt | length %}{% set end = upto.rstrip() | length %}"
    "{% if start >= ns.at and end > start and full.startswith(prompt) and full.startswith(upto) %}"
    "{{ full[ns.at:start] }}{% generation %}{{ full[start:end] }}{% endgeneration %}"
    "{% set ns.at = end %}{% endif %}{% endif %}{% endfor %}"
    "{{ full[ns.at:] }}{% endif %}"
)

# probe conversations for check_marked: distinct texts, so a trained span can be told from others
_PROBES: tuple[tuple[dict[str, Any], ...], ...] = (
    (
        {"role": "system", "content": "PROBE-SYS"},
        {"role": "user", "content": "PROBE-Q1"},
        {"role": "assistant", "content": "PROBE-A1"},
        {"role": "user", "content": "PROBE-Q2"},
        {"role": "assistant", "content": "PROBE-A2"},
    ),
    (
        {"role": "user", "content": "PROBE-Q1"},
        {"role": "assistant", "content": "PROBE-A1"},
    ),
)


def marked_copy(template: str) -> str:
    """``template`` with ``{% generation %}`` marks around each assistant turn (module doc)."""
    body = template
    # Jinja drops one trailing newline of a template (keep_trailing_newline is off); inside the
    # macro it would be output, so it goes. trim_blocks drops a newline right after the macro
    # tag, which in the original would be output: one more keeps it.
    if body.endswith("\n"):
        body = body[:-1]
    if body.startswith("\n"):
        body = "\n" + body
    return (
        MARKED_BY
        + "{% macro sftforge_render(messages, add_generation_prompt) %}"
        + body
        + "{% endmacro %}"
        + _WRAPPER
    )


@dataclass
class MarkCheck:
    """What :func:`check_marked` found: ``problem`` (why the copy cannot train; None: it can) and
    ``history_untrained`` (the template rewrites earlier answers once later turns follow, so
    those are left untrained and only the answers it renders as at inference are trained)."""

    problem: str | None
    history_untrained: bool = False


def check_marked(tokenizer: Any, template: str, marked: str) -> MarkCheck:
    """Whether ``marked`` (the :func:`marked_copy` of ``template``) can train: on each probe its
    text must equal the original's (with and without the generation prompt), and its trained
    tokens must hold the last answer and no question (earlier answers: noted when left out)."""
    rendered = 0
    history_untrained = False
    for probe in _PROBES:
        messages = [dict(m) for m in probe]
        try:
            for prompt in (False, True):
                want = bounded_apply(
                    tokenizer,
                    messages,
                    chat_template=template,
                    tokenize=False,
                    add_generation_prompt=prompt,
                )
                got = bounded_apply(
                    tokenizer,
                    messages,
                    chat_template=marked,
                    tokenize=False,
                    add_generation_prompt=prompt,
                )
                if got != want:
                    return MarkCheck("its marked copy does not render the same text as it")
            out = bounded_apply(
                tokenizer,
                messages,
                chat_template=marked,
                tokenize=True,
                return_dict=True,
                return_assistant_tokens_mask=True,
            )
        except TemplateError as exc:
            if probe is _PROBES[0]:
                continue  # a template may refuse a system turn or two answers; the next probe
            return MarkCheck(f"it fails on a probe conversation ({exc.message})")
        rendered += 1
        trained = tokenizer.decode(
            [t for t, k in zip(out["input_ids"], out["assistant_masks"], strict=True) if k]
        )
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        questions = [m["content"] for m in messages if m["role"] != "assistant"]
        if answers[-1] not in trained or any(q in trained for q in questions):
            return MarkCheck(
                "its assistant turns cannot be found by rendering (the text before an answer "
                "differs from what it writes as the generation prompt)"
            )
        history_untrained |= not all(a in trained for a in answers)
    if not rendered:
        return MarkCheck("it fails on every probe conversation")
    return MarkCheck(None, history_untrained)


def given_template(tokenizer: Any, template: str | None, options: dict[str, Any]) -> str | None:
    """The template text asked for, or None for the tokenizer's own: the ``chat_template`` option
    (text), else the ``chat_template_path`` option (a ``.jinja``/``.j2`` file, read as TRL reads
    it), else ``template`` (``--template``: a built-in name, ``tokenizer[:NAME]`` or a file)."""
    text = options.get("chat_template")
    if text is not None:
        if not isinstance(text, str):
            raise TemplateError("the chat_template option must be the template's text.")
        return text
    path = options.get("chat_template_path")
    if path is not None:
        file = Path(str(path)).expanduser()
        if not (file.suffix in (".jinja", ".j2") and file.is_file()):
            # TRL would clone a tokenizer's template from a folder or hub id, adding its tokens
            # to the model (clone_chat_template): a different model, not reproduced here
            raise TemplateError(
                f"chat_template_path '{path}' is not a .jinja or .j2 file.",
                field="option",
                hint="give the template file (TRL reads its text), or --template FOLDER",
            )
        return file.read_text(encoding="utf-8")
    if template is None:
        return None
    return resolve_template(template, tokenizer).source


@dataclass
class TrlTemplate:
    """What TRL renders with: ``source`` (the template text), whether it is the tokenizer's own
    unchanged (``own``: nothing to ship) or must be shipped with the export, the
    ``assistant_only_loss`` it trains with, and notes for the user."""

    source: str
    own: bool
    assistant_only_loss: bool
    notes: list[str] = field(default_factory=list)


def decide_trl_template(
    tokenizer: Any,
    chat_template: str | None,
    *,
    assistant_only_loss: bool,
    fallback: bool,
) -> TrlTemplate:
    """The template TRL trains with. ``chat_template`` is the one given (``--template`` resolved,
    or the ``chat_template`` option), else the tokenizer's own is used. With
    ``assistant_only_loss`` and a template without marks, its checked marked copy; when that
    cannot be made, ``fallback`` turns ``assistant_only_loss`` off with a note, else it raises."""
    own = getattr(tokenizer, "chat_template", None)
    source = chat_template if chat_template is not None else own
    if not isinstance(source, str):
        raise TemplateError(
            "the tokenizer has no chat template (TRL renders conversations with it)",
            field="template",
            hint="pass --template (a template file or a built-in name such as chatml)",
        )
    is_own = source == own
    if not assistant_only_loss or has_generation_marks(source):
        return TrlTemplate(source, is_own, assistant_only_loss)
    marked = marked_copy(source)
    check = check_marked(tokenizer, source, marked)
    problem = check.problem
    if problem is None:
        notes = [
            "the chat template has no {% generation %} marks, which TRL's assistant_only_loss "
            "needs: chat_template.jinja is a marked copy of it (same text; the marks say which "
            "tokens are the assistant's), passed to TRL as chat_template_path"
        ]
        if check.history_untrained:
            notes.append(
                "the chat template writes earlier assistant turns differently once later turns "
                "follow (it drops their reasoning, say): in multi-turn rows only the turns it "
                "writes as at inference (the last one at least) are trained"
            )
        return TrlTemplate(marked, False, True, notes)
    if not fallback:
        raise TemplateError(
            f"assistant_only_loss needs {{% generation %}} marks in the chat template, and no "
            f"marked copy of it works: {problem}.",
            field="template",
            hint="pass a template with generation marks (--template FILE), or "
            "--option assistant_only_loss=false to train every token",
        )
    note = (
        f"assistant_only_loss is off (every token is trained, TRL's default): the chat template "
        f"has no {{% generation %}} marks and no marked copy of it works: {problem}; pass a "
        f"template with marks "
        "(--template FILE) to train the answers only"
    )
    return TrlTemplate(source, is_own, False, [note])
