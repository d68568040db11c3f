"""Chat with a model: one turn as a library call, and the terminal loop ``sftforge chat`` runs.

``chat_turn(model, messages)`` renders the conversation with the model's own chat template
through sftforge's sandboxed renderer (``chat.render.render_messages``, the template training
rendered with: the prompt the model sees here is the one it was trained on), generates, and
returns the answer; ``on_text`` receives the answer piece by piece as it is generated
(``TextIteratorStreamer``). Generation is greedy by default (``temperature=0``), so the same
question gets the same answer: what a before/after comparison needs.

``ChatSession`` keeps a system prompt and the history (when the prompt would leave less than
``max_new_tokens`` of the model's context, the oldest exchanges are left out, counted in
``dropped``); ``run_chat`` is the terminal loop over lines read from ``stdin``: each line is a
user message, ``/reset`` clears the history, ``/system TEXT`` sets the system prompt (and clears
the history), ``/exit`` or end of input ends; Ctrl-C during an answer stops it (what was
generated is kept). With a second model (``--compare BASE``) each message is answered by both,
each with its own history, and the two answers are printed side by side in columns (not
streamed: both must be complete to be laid out).
"""

from __future__ import annotations

import shutil
import sys
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..chat.render import render_messages
from .load import LoadedModel

__all__ = [
    "ChatSession",
    "GenerationSettings",
    "chat_turn",
    "prompt_text",
    "run_chat",
    "side_by_side",
]


@dataclass(frozen=True, kw_only=True)
class GenerationSettings:
    """``temperature`` 0 means greedy decoding; ``seed`` makes sampling repeatable."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0


def prompt_text(model: LoadedModel, messages: list[dict[str, Any]]) -> str:
    """The text the model is given: ``messages`` and the assistant's opening, by its template."""
    text, _ = render_messages(
        messages, model.template, special_tokens=model.special_tokens, add_generation_prompt=True
    )
    return text


def _stop_ids(model: LoadedModel) -> list[int]:
    ids: list[int] = []
    configured = getattr(getattr(model.model, "generation_config", None), "eos_token_id", None)
    for i in [configured] if isinstance(configured, int) else list(configured or []):
        ids.append(int(i))
    eos = model.tokenizer.eos_token_id
    if eos is not None and eos not in ids:
        ids.append(int(eos))
    return ids


def chat_turn(
    model: LoadedModel,
    messages: list[dict[str, Any]],
    *,
    settings: GenerationSettings | None = None,
    on_text: Callable[[str], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> str:
    """Answer the conversation ``messages`` (ending with a user turn); see the module docstring.

    Ctrl-C (``KeyboardInterrupt``) while the answer is generated stops the generation; with
    ``on_interrupt`` it is called and the answer so far is returned, without it the interrupt
    goes on to the caller."""
    import torch
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    settings = settings or GenerationSettings()
    tok = model.tokenizer
    enc = tok(prompt_text(model, messages), return_tensors="pt", add_special_tokens=False)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    stops = _stop_ids(model)
    gen: dict[str, Any] = {
        "input_ids": enc["input_ids"].to(model.device),
        "attention_mask": enc["attention_mask"].to(model.device),
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.temperature > 0,
        "eos_token_id": stops or None,
        "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else (stops or [0])[0],
        "streamer": streamer,
    }
    stop = threading.Event()
    gen["stopping_criteria"] = StoppingCriteriaList([_stopper(stop)])
    if settings.temperature > 0:
        gen.update(temperature=settings.temperature, top_p=settings.top_p)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
    else:  # greedy: leave out the sampling settings a generation config may carry
        gen.update(temperature=None, top_p=None, top_k=None)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with torch.no_grad():
                model.model.generate(**gen)
        except BaseException as exc:  # re-raised below, in the caller's thread
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    pieces = []
    try:
        for piece in streamer:
            pieces.append(piece)
            if on_text is not None and piece:
                on_text(piece)
    except KeyboardInterrupt:
        if on_interrupt is None:
            raise
        on_interrupt()
    finally:
        stop.set()  # an interrupt, or an error in on_text: generating on would be wasted
        worker.join()
    if failure:
        raise failure[0]
    return "".join(pieces).strip()


def _stopper(event: threading.Event) -> Any:
    """A stopping criterion that ends generation once ``event`` is set (from another thread)."""
    import torch
    from transformers import StoppingCriteria

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            n = input_ids.shape[0]
            return torch.full((n,), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopOnEvent()


def _context_size(model: LoadedModel) -> int:
    config = getattr(model.model, "config", None)
    return int(getattr(config, "max_position_embeddings", 0) or 1 << 30)


def _prompt_tokens(model: LoadedModel, messages: list[dict[str, Any]]) -> int:
    return len(model.tokenizer(prompt_text(model, messages), add_special_tokens=False)["input_ids"])


@dataclass
class ChatSession:
    """One model's side of a conversation: the system prompt and the turns so far."""

    model: LoadedModel
    system: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0  # exchanges left out because the context was full

    def say(
        self,
        user: str,
        *,
        settings: GenerationSettings | None = None,
        on_text: Callable[[str], None] | None = None,
        on_interrupt: Callable[[], None] | None = None,
    ) -> str:
        head = [{"role": "system", "content": self.system}] if self.system else []
        turn = {"role": "user", "content": user}
        room = _context_size(self.model) - (settings or GenerationSettings()).max_new_tokens
        # the oldest exchanges go first when the prompt would not leave room for the answer
        while self.history and _prompt_tokens(self.model, [*head, *self.history, turn]) > room:
            del self.history[:2]
            self.dropped += 1
        messages = [*head, *self.history, turn]
        answer = chat_turn(
            self.model, messages, settings=settings, on_text=on_text, on_interrupt=on_interrupt
        )
        self.history += [
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
        return answer

    def reset(self, system: str | None = None) -> None:
        self.history.clear()
        self.system = system if system is not None else self.system


def _width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns, broken at a space where there is one (CJK anywhere)."""
    lines: list[str] = []
    for para in text.replace("\r", "").expandtabs(4).split("\n"):
        cur = ""
        for ch in para:
            if _width(cur) + _width(ch) > width:
                cut = cur.rfind(" ")
                lines.append(cur[:cut] if cut > 0 else cur)
                cur = cur[cut + 1 :] if cut > 0 else ""
            cur += ch
        lines.append(cur)
    return lines


def side_by_side(left: tuple[str, str], right: tuple[str, str], width: int) -> str:
    """Two ``(title, text)`` columns in ``width`` terminal columns, a ``│`` between them."""
    col = max(10, (width - 3) // 2)
    a = [left[0], "─" * col, *_wrap(left[1], col)]
    b = [right[0], "─" * col, *_wrap(right[1], col)]
    rows = []
    for i in range(max(len(a), len(b))):
        la = a[i] if i < len(a) else ""
        lb = b[i] if i < len(b) else ""
        rows.append((la + " " * (col - _width(la)) + " │ " + lb).rstrip())
    return "\n".join(rows)


def run_chat(
    model: LoadedModel,
    *,
    compare: LoadedModel | None = None,
    system: str | None = None,
    settings: GenerationSettings | None = None,
    stream: bool = True,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    width: int | None = None,
) -> int:
    """The terminal loop (see the module docstring); returns the number of messages answered."""
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    sessions = [ChatSession(model, system)] + ([ChatSession(compare, system)] if compare else [])
    cols = width or shutil.get_terminal_size((100, 24)).columns
    interactive = inp.isatty()
    answered = 0
    while True:
        if interactive:
            out.write("you> ")
            out.flush()
        line = inp.readline()
        if not line:
            break
        user = line.rstrip("\r\n")
        if not user.strip():
            continue
        if user.strip() in ("/exit", "/quit"):
            break
        if user.strip() == "/reset" or user.startswith("/system "):
            new_system = user[len("/system ") :].strip() if user.startswith("/system ") else None
            for s in sessions:
                s.reset(new_system)
            out.write("(history cleared)\n")
            continue
        answered += 1
        before = sessions[0].dropped
        if compare is None:
            _answer_one(sessions[0], user, settings, stream, out)
        else:
            tuned = sessions[0].say(user, settings=settings, on_interrupt=_stopped(out))
            base = sessions[1].say(user, settings=settings, on_interrupt=_stopped(out))
            left = (f"{model.path.name} (tuned)", tuned)
            out.write(side_by_side(left, (f"{compare.path.name} (base)", base), cols) + "\n\n")
        if sessions[0].dropped > before:
            out.write("(the oldest exchanges were left out: the model's context is full)\n")
        out.flush()
    return answered


def _answer_one(
    session: ChatSession,
    user: str,
    settings: GenerationSettings | None,
    stream: bool,
    out: TextIO,
) -> None:
    out.write("assistant> ")
    if stream:

        def show(piece: str) -> None:
            out.write(piece)
            out.flush()

        session.say(user, settings=settings, on_text=show, on_interrupt=_stopped(out))
        out.write("\n\n")
    else:
        answer = session.say(user, settings=settings, on_interrupt=_stopped(out))
        out.write(answer + "\n\n")


def _stopped(out: TextIO) -> Callable[[], None]:
    """What Ctrl-C during an answer does in the terminal: the answer so far is kept, marked."""

    def stopped() -> None:
        out.write(" [stopped]")

    return stopped
