"""Trained spans of a chat template that has no ``{% generation %}`` marks.

Almost no published template has marks, so the trained text is found by rendering the
conversation's prefixes with the template itself. For the assistant message at index ``i``:

* ``prompt`` = the messages before ``i`` rendered with ``add_generation_prompt=True``: what the
  model sees at inference before it writes turn ``i``;
* ``upto`` = the messages up to and including ``i``, rendered without the generation prompt.

The template is *prefix-stable* at that turn when ``prompt`` and ``upto`` are both prefixes of the
full render: the turn then occupies ``full[len(prompt):end]``, where ``end`` is the end of
``upto`` less trailing whitespace (the newline a template writes between turns is not the model's
to learn; the end-of-turn token before it is). Each turn is also located: its content (stripped)
and the names of its tool calls must lie inside its span, or the sample fails. The full render is
the template's own output, so the ids are the tokenizer's ids for it.

A template that is not prefix-stable (it drops reasoning from earlier turns, folds the system
prompt into the last user turn, numbers turns from the end...) raises :class:`NotPrefixStable`
naming the turn, unless a policy (``UNSTABLE_POLICIES``) says what to train:

* ``last``: the full render, only the last assistant turn trained (it is the one rendered as at
  inference);
* ``split``: one row per assistant turn, each the conversation up to that turn rendered as the
  template would at inference (what TRL and LLaMA-Factory do for such models); the caller splits,
  :func:`turn_blocks` renders each row with ``last``;
* ``keep-reasoning``: every assistant turn as the template renders it when it is the last turn
  (so its reasoning is kept), stitched with the text the template puts between turns. The row is
  not the template's render of the whole conversation (which drops history reasoning) but each
  piece is the template's own output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..errors import TemplateError

__all__ = [
    "UNSTABLE_POLICIES",
    "NotPrefixStable",
    "RenderFn",
    "UnstablePolicy",
    "first_difference",
    "trailer_of",
    "turn_blocks",
]

UnstablePolicy = Literal["last", "split", "keep-reasoning"]
UNSTABLE_POLICIES: tuple[str, ...] = ("last", "split", "keep-reasoning")
# (messages, add_generation_prompt) -> the template's text
RenderFn = Callable[[list[dict[str, Any]], bool], str]
Blocks = list[tuple[int, int]]


class NotPrefixStable(TemplateError):
    """The template renders an assistant turn differently once later turns follow."""

    def __init__(self, turn: int, what: str, at: int, text: str, **kw: Any) -> None:
        self.turn = turn
        self.what = what
        context = text[max(0, at - 20) : at + 20]
        super().__init__(
            f"the chat template is not prefix-stable at assistant turn {turn}: {what} "
            f"(renders differ at character {at}: {context!r}).",
            hint=f"choose --unstable {'|'.join(UNSTABLE_POLICIES)}",
            **kw,
        )


def first_difference(a: str, b: str) -> int:
    """The index of the first character where ``a`` and ``b`` differ (their common length if one
    is a prefix of the other)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _turn_start(
    text: str,
    prompt: str,
    messages: list[dict[str, Any]],
    i: int,
    render: RenderFn,
    turn: int,
    specials: Sequence[str],
) -> int:
    """Where assistant turn ``turn`` (message ``i``) starts in ``text``: the end of its inference
    prompt. When only the generation prompt differs from what the turn renders (a prompt that
    opens an empty ``<think></think>`` before a turn that has reasoning), the turn starts where
    they part, inside the generation prompt; any other difference is not prefix-stable."""
    if text.startswith(prompt):
        return len(prompt)
    at = _backoff(text, first_difference(text, prompt), specials)
    if at >= len(render(messages[:i], False)):
        return at
    raise NotPrefixStable(
        turn, "the prompt rendered for inference is not how the conversation begins", at, text
    )


def _turn_end(upto: str, start: int, message: dict[str, Any]) -> int:
    """The end of the assistant turn that ``upto`` ends with: trailing whitespace is the
    separator before the next turn, unless it is the message's own text."""
    end = len(upto.rstrip())
    content = message.get("content")
    if isinstance(content, str) and content.strip():
        at = upto.rfind(content.strip(), start)
        if at >= 0:
            end = max(end, at + len(content.strip()))
    return max(end, start)


def _locate(text: str, start: int, end: int, message: dict[str, Any], turn: int) -> None:
    """The turn's own text must lie inside its span: else the span is not that turn."""
    span = text[start:end]
    content = message.get("content")
    wanted = [content.strip()] if isinstance(content, str) and content.strip() else []
    for call in message.get("tool_calls") or []:
        name = (call.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            wanted.append(name)
    for piece in wanted:
        if piece not in span:
            raise TemplateError(
                f"assistant turn {turn}: {piece[:40]!r} is not inside the text the chat "
                "template renders for that turn, so its trained span cannot be found.",
                hint="the template drops or rewrites this turn; use a template with "
                "{% generation %} marks",
            )


def _assistant_indices(messages: Sequence[dict[str, Any]]) -> list[int]:
    return [i for i, m in enumerate(messages) if m.get("role") == "assistant"]


def _backoff(text: str, at: int, specials: Sequence[str]) -> int:
    """``at`` moved back to the start of a special token it falls inside (``</s>`` and
    ``<|user|>`` share their first character, a difference is never inside a token)."""
    start = at
    for tok in specials:
        i = text.rfind(tok, max(0, at - len(tok) + 1), at + len(tok) - 1)
        if i != -1 and i < at < i + len(tok):
            start = min(start, i)
    return start


def trailer_of(render: RenderFn, specials: Sequence[str] = ()) -> str:
    """What the template writes after the last message only (Phi-3 ends a conversation with
    EOS unless a generation prompt follows): found on a two-turn probe, ``""`` when none (or
    when the template refuses the probe)."""
    probe = [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2"},
    ]
    try:
        full, upto = render(probe, False), render(probe[:2], False)
    except TemplateError:
        return ""
    if full.startswith(upto):
        return ""
    start = _backoff(upto, first_difference(full, upto), specials)
    return upto[start:] if full.endswith(upto[start:]) else ""


def _without(text: str, trailer: str) -> str:
    return text[: -len(trailer)] if trailer and text.endswith(trailer) else text


def turn_blocks(
    messages: list[dict[str, Any]],
    render: RenderFn,
    policy: UnstablePolicy | None = None,
    trailer: str = "",
    specials: Sequence[str] = (),
) -> tuple[str, Blocks]:
    """The text and one trained span per assistant turn (only the last one's under ``last``
    and ``split``); raises :class:`NotPrefixStable` when the template cannot give them.
    ``trailer`` (:func:`trailer_of`) is left out of the turn it follows; ``specials`` are the
    special tokens' texts (``encode.special_texts``), so a turn never starts inside one."""
    indices = _assistant_indices(messages)
    if policy == "keep-reasoning":
        return _stitched(messages, indices, render, trailer, specials)
    full = render(messages, False)
    if policy in ("last", "split"):
        indices = indices[-1:]
    blocks: Blocks = []
    for turn, i in enumerate(_assistant_indices(messages), 1):
        if i not in indices:
            continue
        prompt = render(messages[:i], True)
        upto = _without(
            full if i == len(messages) - 1 else render(messages[: i + 1], False), trailer
        )
        start = _turn_start(full, prompt, messages, i, render, turn, specials)
        if not full.startswith(upto):
            raise NotPrefixStable(
                turn,
                "the turn renders differently once later turns follow",
                first_difference(full, upto),
                full,
            )
        end = _turn_end(upto, start, messages[i])
        _locate(full, start, end, messages[i], turn)
        blocks.append((start, end))
    return full, blocks


def _stitched(
    messages: list[dict[str, Any]],
    indices: list[int],
    render: RenderFn,
    trailer: str,
    specials: Sequence[str],
) -> tuple[str, Blocks]:
    """keep-reasoning: each turn as rendered last, joined by the template's between-turn text."""
    text = ""
    blocks: Blocks = []
    prev_upto: str | None = None
    for turn, i in enumerate(indices, 1):
        rendered = render(messages[: i + 1], False)
        upto = _without(rendered, trailer)
        start = _turn_start(upto, render(messages[:i], True), messages, i, render, turn, specials)
        prompt = upto[:start]
        text += prompt if prev_upto is None else prompt[_history_end(prev_upto, prompt, turn) :]
        start = len(text)
        end = start + _turn_end(upto, len(prompt), messages[i]) - len(prompt)
        text += (rendered if i == len(messages) - 1 else upto)[len(prompt) :]
        _locate(text, start, end, messages[i], turn)
        blocks.append((start, end))
        prev_upto = upto
    if prev_upto is None or indices[-1] != len(messages) - 1:
        full = render(messages, False)
        text += full if prev_upto is None else full[_history_end(prev_upto, full, len(indices)) :]
    return text, blocks


def _history_end(last: str, later: str, turn: int) -> int:
    """Where the previous assistant turn ends inside ``later`` (a render in which that turn is
    history). ``last`` renders the conversation up to that turn with the turn last; the history
    form must be the last form with a middle part removed (reasoning dropped), so the text from
    their first difference to the history form's end is a suffix of the last form."""
    p = first_difference(last, later)
    if p == len(last):
        return p
    tail = last[p:]
    for x in range(min(len(later), p + len(tail)), p, -1):
        if tail.endswith(later[p:x]):
            return x
    raise NotPrefixStable(
        turn,
        "the turn's history form is not its last form with a part removed",
        p,
        later,
    )
