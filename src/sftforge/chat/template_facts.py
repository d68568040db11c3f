"""What a chat template does, found by rendering probe conversations through it.

``template_facts`` answers what a user needs before trusting a shipped template for training:

* ``prefix_stable`` / ``unstable_at``: whether each assistant turn renders the same once later
  turns follow (probed on plain multi-turn, system, reasoning and tool conversations), and if not,
  which probe and turn first differ and how;
* ``adds_bos`` / ``double_bos``: the render starts with the tokenizer's BOS, and tokenizing it
  with special tokens (as some trainers do) would give a second one;
* ``turn_end``: the text that closes an assistant turn (after the answer, inside its trained span),
  and whether it is the EOS token, another special token (an end-of-turn token) or nothing;
* ``trailer``: text written after the last message only (e.g. EOS), left untrained;
* ``default_system``: the system prompt the template injects when the conversation has none;
* ``system``: ``own turn``, ``folded`` into a user turn, ``refused`` or ``dropped``;
* ``reasoning``: ``kept`` in every turn, ``dropped from history`` (kept only in the last turn),
  ``not rendered``;
* ``tool_results``: how a tool result is rendered (the text just before it), ``dropped`` or
  ``refused``; ``tool_calls``: ``rendered``, ``dropped`` or ``refused``.

Probe texts are Unicode noncharacters plus letters, so they never collide with template text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import TemplateError
from .encode import special_texts, special_tokens_of
from .render import text_renderer
from .templates import ChatTemplate
from .unmarked import NotPrefixStable, RenderFn, trailer_of, turn_blocks

__all__ = ["TemplateFacts", "template_facts"]

_S, _R, _T = "\ufdd2SYS", "\ufdd3REASON", "\ufdd4RESULT"
_TOOL = {
    "type": "function",
    "function": {
        "name": "probe_tool",
        "description": "a probe",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def _msg(role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


_PLAIN = [_msg("user", "Q1"), _msg("assistant", "A1"), _msg("user", "Q2"), _msg("assistant", "A2")]
_REASONING = [
    _msg("user", "Q1"),
    _msg("assistant", "A1", reasoning_content=_R, thinking=_R),
    _msg("user", "Q2"),
    _msg("assistant", "A2"),
]
_CALL = {"type": "function", "function": {"name": "probe_tool", "arguments": {"q": "x"}}}
_TOOLS = [
    _msg("user", "Q1"),
    _msg("assistant", "", tool_calls=[_CALL]),
    _msg("tool", _T, name="probe_tool"),
    _msg("assistant", "A2"),
]


@dataclass(slots=True)
class TemplateFacts:
    name: str
    prefix_stable: bool
    unstable_at: list[str]
    adds_bos: bool
    double_bos: bool
    turn_end: str
    turn_end_kind: str
    trailer: str
    default_system: str | None
    system: str
    reasoning: str
    tool_calls: str
    tool_results: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The facts as short sentences, for the text report."""
        if self.prefix_stable:
            stability = "prefix-stable"
        else:
            stability = (
                "NOT prefix-stable: " + "; ".join(self.unstable_at)
                + " (tokenize needs --unstable last|split|keep-reasoning)"
            )  # fmt: skip
        bos = "does not add BOS"
        if self.adds_bos:
            bos = "adds BOS itself" + (
                " (a second BOS if tokenized with special tokens)" if self.double_bos else ""
            )
        system = f"system prompt: {self.system}"
        if self.default_system:
            system += f"; injects a default one: {self.default_system!r}"
        out = [
            stability,
            f"assistant turns end with {self.turn_end!r} ({self.turn_end_kind})",
            bos,
            system,
            f"reasoning: {self.reasoning}",
            f"tool calls: {self.tool_calls}; tool results: {self.tool_results}",
        ]
        if self.trailer:
            out.append(f"writes {self.trailer!r} after the last message only (left untrained)")
        return out


def _try(render: RenderFn, messages: list[dict[str, Any]], prompt: bool = False) -> str | None:
    try:
        return render(messages, prompt)
    except TemplateError:
        return None


def _stability(render: RenderFn, trailer: str, specials: tuple[str, ...]) -> list[str]:
    where = []
    probes = {
        "multi-turn": _PLAIN,
        "with a system prompt": [_msg("system", _S), *_PLAIN],
        "with reasoning": _REASONING,
        "with a tool call": _TOOLS,
    }
    for name, messages in probes.items():
        try:
            turn_blocks(messages, render, None, trailer, specials)
        except NotPrefixStable as exc:
            where.append(f"assistant turn {exc.turn} {name}: {exc.what}")
        except TemplateError:
            continue  # the template refuses this kind of conversation: reported below
    return where


def _turn_end(
    render: RenderFn, trailer: str, specials: tuple[str, ...], tokenizer: Any
) -> tuple[str, str]:
    try:
        text, blocks = turn_blocks(_PLAIN, render, "last", trailer, specials)
    except TemplateError:
        return "", "unknown (the probe does not render)"
    a, b = blocks[0]
    after = text[a:b].split("A2", 1)[-1]
    eos = getattr(tokenizer, "eos_token", None)
    if not after.strip():
        return after, "nothing: the model is not taught to stop"
    if eos and after.strip().endswith(eos):
        return after, "EOS"
    if any(after.strip().endswith(s) for s in specials):
        return after, "an end-of-turn special token, not EOS"
    return after, "plain text, no special token"


def _system(render: RenderFn) -> tuple[str, str | None]:
    bare = _try(render, [_msg("user", "Q1")], True)
    with_sys = _try(render, [_msg("system", _S), _msg("user", "Q1")], True)
    if with_sys is None:
        return "refused", None
    if _S not in with_sys:
        return "dropped", None
    injected = None
    if bare is not None:
        head, _, tail = with_sys.partition(_S)
        if bare.startswith(head) and bare.endswith(tail) and len(bare) > len(head) + len(tail):
            injected = bare[len(head) : len(bare) - len(tail)]
    # the user turn's header (the text before its content when alone) before the system text:
    # the system prompt is inside the user turn
    kind = "own turn"
    if bare is not None and "Q1" in bare and "Q1" in with_sys:
        header = bare[: bare.index("Q1")][-8:]
        j = with_sys.rfind(header, 0, with_sys.index("Q1")) if header else -1
        if j != -1 and j < with_sys.index(_S):
            kind = "folded into a user turn"
    return kind, injected


def _reasoning(render: RenderFn) -> str:
    full = _try(render, _REASONING)
    last = _try(render, _REASONING[:2])
    if full is None or last is None:
        return "unknown (the probe does not render)"
    if _R in full:
        return "kept in every turn"
    if _R in last:
        return "dropped from earlier turns (kept in the last)"
    return "not rendered"


def _tools(render: RenderFn) -> tuple[str, str]:
    try:
        text = render(_TOOLS, False)
    except TemplateError as exc:
        return "refused", f"refused ({exc.message[:60]})"
    calls = "rendered" if "probe_tool" in text.split(_T)[0] else "dropped"
    if _T not in text:
        return calls, "dropped"
    before = text[: text.index(_T)]
    return calls, f"rendered after {before[-40:]!r}"


def template_facts(template: ChatTemplate, tokenizer: Any) -> TemplateFacts:
    """Probe ``template`` (rendered with ``tokenizer``'s special tokens) for its facts."""
    special = special_tokens_of(tokenizer)
    specials = tuple(special_texts(tokenizer))
    render = text_renderer(template, special_tokens=special)
    render_tools = text_renderer(template, special_tokens=special, tools=[_TOOL])
    trailer = trailer_of(render, specials)
    unstable = _stability(render, trailer, specials)
    end, end_kind = _turn_end(render, trailer, specials, tokenizer)
    bos = getattr(tokenizer, "bos_token", None)
    first = _try(render, _PLAIN) or ""
    adds_bos = isinstance(bos, str) and bool(bos) and first.startswith(bos)
    double = False
    if adds_bos:
        ids = tokenizer(first, add_special_tokens=True)["input_ids"]
        double = len(ids) >= 2 and ids[0] == ids[1] == tokenizer.bos_token_id
    system, injected = _system(render)
    calls, results = _tools(render_tools)
    return TemplateFacts(
        name=template.name,
        prefix_stable=not unstable,
        unstable_at=unstable,
        adds_bos=adds_bos,
        double_bos=double,
        turn_end=end,
        turn_end_kind=end_kind,
        trailer=trailer,
        default_system=injected,
        system=system,
        reasoning=_reasoning(render),
        tool_calls=calls,
        tool_results=results,
    )
