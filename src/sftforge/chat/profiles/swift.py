"""The ``swift`` profile: ids and labels as ms-swift 4.6 builds them with its own (``swift``) backend.

What is reproduced (read from ms-swift 4.6.0 as installed from PyPI, ``swift/template/base.py`` -
``_swift_prepare_inputs``, ``_swift_encode``, ``_concat_context_list``, ``_simplify_context_list``,
``_encode_context_list``, ``_add_dynamic_eos``, ``_encode`` - with the ``default`` loss scale
(``swift/loss_scale/base.py``) and the ChatML template metas in ``template/templates/``; compared
with ms-swift's own ``Template.encode`` by bench/profile_oracle.py, and on hand-computed ids):

* ``_swift_prepare_inputs``: tool calls become the agent template's text
  (:mod:`.swift_agent`: ``hermes``, ``react_en``, ``react_zh``; default the template type's own),
  tool results after a call become the next round's query (``_format_tool_responses``: for
  ``hermes`` ``chat_sep`` + the prompt around ``<tool_response>`` blocks), results right after a
  user turn are appended to it; consecutive user turns are joined, consecutive answers kept as
  parts (each with its own loss flag); ``tools`` go into the system text (``_format_tools``);
* a leading system turn is the system prompt, else the template's (or ``default_system``
  option's) default system; ``system_prefix`` is used when there is a system text, ``prefix``
  otherwise;
* ``_get_std_messages``: a conversation that starts with an answer gets an empty query first, one
  that ends with a query is encoded up to that query's prompt (no answer, nothing more);
* ``auto_add_bos`` templates (``chatml``) put the tokenizer's own BOS first (untrained) and, when
  the tokenizer appends a separator after text, that separator last (trained) instead of the suffix;
* each round contributes ``prompt`` (query filled in) then the response; between rounds
  ``chat_sep`` (not before tool results), after the last response ``suffix`` (unless the answer
  already ends with a stop word);
* loss scale (``loss_scale`` option, ms-swift's base strategies): ``default`` trains responses and
  the suffix, ``last_round`` only those after the last query, ``all`` everything; an answer with
  ``train`` set (ms-swift's ``loss``) is trained or not whatever the strategy;
* adjacent pieces with the same loss flag are joined into one string and each string is tokenized
  on its own (``add_special_tokens=False``);
* ``_add_dynamic_eos``: a masked piece right after a trained one, up to the next trained token or
  the row's end, that starts with the suffix's ids (``<|im_end|>`` of ``chat_sep``) gets those ids
  trained; the first label is always ``-100``;
* ``max_length`` with ``truncation_strategy`` ``delete`` (ms-swift's default: the row is dropped,
  here rejected), ``left`` or ``right`` (``_truncate``: the kept row's first label is ``-100``).

With a tokenizer's own chat template (``--template tokenizer``, a ``.jinja`` file, or the
``chat_template`` option) the profile follows ms-swift's ``template_backend='jinja'`` instead
(``_jinja_encode``; compared with ms-swift's own ``Template.encode`` by
tests/chat/profiles/test_profiles_oracle.py):

* OpenAI tool calls become ``tool_call`` turns (``normalize_openai_tool_calls``: the call's tool
  results are put in call order when every id matches) that the agent template (``hermes``) writes
  as ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` lines appended to the
  assistant's text; consecutive user (or assistant) turns are joined; tool results stay ``tool``
  turns; ``tools`` are wrapped as ``{"type": "function", "function": ...}``;
* the system prompt, else the ms-swift template type's default system, is the first message;
* the conversation is rendered once by the chat template (``add_generation_prompt`` when the last
  turn is not the assistant's, so a conversation may end with a user turn) and tokenized once
  without special tokens; **every token is trained** except the first (ms-swift gives the one
  context loss scale 1.0; per-turn ``loss`` flags are not read); then truncation as above.

Not reproduced: agent templates other than ``hermes``/``react_en``/``react_zh`` (rows with tools are
rejected with the reason), multimodal inputs, agent loss scales (``hermes``, ``react``...),
thinking template types. Reasoning is put inline as ``<think>\\n...\\n</think>\\n\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Message, Sample
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile, encode_texts
from .hf_bounds import bounded_apply
from .swift_agent import (
    AGENT_TEMPLATES,
    format_standalone_results,
    format_tool_calls,
    format_tool_results,
    format_tools,
)
from .swift_jinja import JINJA_TEMPLATE_TYPES, jinja_conversation, swift_tools

__all__ = [
    "DEFAULT_TEMPLATE",
    "LOSS_SCALES",
    "OPTIONS",
    "RUN_OPTIONS",
    "SWIFT_TEMPLATES",
    "SwiftProfile",
    "swift_template",
]

# the ms-swift options (its own names) that change the tokens, as ``--option`` takes them
OPTIONS = (
    "truncation_strategy",
    "loss_scale",
    "agent_template",
    "default_system",
    "template_backend",
    "chat_template",
    "swift_template",
)
# ms-swift options an export writes that do not change the tokens (how the model is loaded): taken
# so that one set of --option values serves both commands, and left alone
RUN_OPTIONS = ("model_type", "torch_dtype")
LOSS_SCALES = ("default", "last_round", "all")  # ms-swift's base strategies
DEFAULT_TEMPLATE = "qwen"

_CHATML = {
    "prefix": [],
    "prompt": ["<|im_start|>user\n{{QUERY}}<|im_end|>\n<|im_start|>assistant\n"],
    "chat_sep": ["<|im_end|>\n"],
    "suffix": ["<|im_end|>\n"],
    "system_prefix": ["<|im_start|>system\n{{SYSTEM}}<|im_end|>\n"],
}
_QWEN = {**_CHATML, "auto_add_bos": False, "stop_words": ["<|endoftext|>"]}
# ms-swift template type -> its TemplateMeta fields (template/templates/utils.py, qwen.py,
# minimind.py); ``agent_template`` None: tool rows fail in ms-swift unless the option names one
SWIFT_TEMPLATES: dict[str, dict[str, Any]] = {
    "qwen": {**_QWEN, "default_system": "You are a helpful assistant.", "agent_template": "hermes"},
    "qwen2_5": {
        **_QWEN,
        "default_system": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        "agent_template": "hermes",
    },
    "qwen3_nothinking": {**_QWEN, "default_system": None, "agent_template": "hermes"},
    "chatml": {
        **_CHATML,
        "default_system": None,
        "auto_add_bos": True,
        "stop_words": [],
        "agent_template": None,
    },
    "minimind": {
        **_QWEN,
        "default_system": "You are a helpful assistant",
        "agent_template": None,
    },
}


# probe conversation for the template decision: with a system text (the format) and without it
# (the default system the tokenizer's template puts in)
_PROBE = [("user", "Hi"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Bye.")]


def _builtin_text(meta: dict[str, Any], system: str | None) -> str:
    """What an ms-swift built-in template renders for the probe (text only, no BOS)."""
    text = meta["system_prefix"][0].replace("{{SYSTEM}}", system) if system else ""
    rounds = [(_PROBE[k][1], _PROBE[k + 1][1]) for k in range(0, len(_PROBE), 2)]
    for i, (query, answer) in enumerate(rounds):
        text += meta["prompt"][0].replace("{{QUERY}}", query) + answer
        text += meta["chat_sep"][0] if i < len(rounds) - 1 else meta["suffix"][0]
    return text


def swift_template(tokenizer: Any, template: str | None) -> tuple[str, str | None]:
    """The ms-swift template type for ``--template`` (or none given), and a warning when it is
    not the tokenizer's own format: the ONE decision ``export --for swift`` writes into
    ``train_swift.sh`` and ``tokenize --profile swift`` encodes with.

    A named type is used as named. Without one, the built-in type whose rendering equals the
    tokenizer's chat template on a probe conversation (with a system text, and without one for the
    default system) is chosen; when none equals it, ``qwen`` with a warning (ms-swift trains a
    tokenizer's own template only with its jinja backend: ``--template tokenizer``)."""
    if template is not None:
        return template, None
    own = getattr(tokenizer, "chat_template", None)
    if not isinstance(own, str):
        return DEFAULT_TEMPLATE, None  # nothing to match: ms-swift's usual ChatML type
    from .hf_bounds import bounded_apply

    def render(system: str | None) -> str | None:
        msgs = [{"role": r, "content": c} for r, c in _PROBE]
        if system is not None:
            msgs.insert(0, {"role": "system", "content": system})
        try:
            text = bounded_apply(tokenizer, msgs, chat_template=own, name="swift", tokenize=False)
        except Exception:  # a template that cannot render the probe matches nothing
            return None
        return text if isinstance(text, str) else None

    with_system, without = render("S"), render(None)
    for name, meta in SWIFT_TEMPLATES.items():
        if with_system == _builtin_text(meta, "S") and without == _builtin_text(
            meta, meta["default_system"]
        ):
            return name, None
    return DEFAULT_TEMPLATE, (
        f"the tokenizer's chat template is not one of ms-swift's built-in templates that the "
        f"profile follows ({', '.join(SWIFT_TEMPLATES)}): the export trains with ms-swift's "
        f"'{DEFAULT_TEMPLATE}'; pass --template NAME for another, or --template tokenizer for "
        "ms-swift's jinja backend (the tokenizer's own template; it trains every token)"
    )


@dataclass
class _Turn:
    """A turn after ``_swift_prepare_inputs``: a query (``user``, or ``tool`` whose pieces stand as
    the prompt) or an answer (``assistant``: its parts, each with its ``loss`` flag)."""

    role: str
    text: str = ""
    parts: list[tuple[str, bool | None]] | None = None
    pieces: list[str] | None = None


def _raw_turns(messages: list[Message], agent: str | None) -> list[dict[str, Any]] | str:
    """The conversation as ms-swift reads the exported record, tool calls formatted
    (``_preprocess_tool_call``): ``{"role", "content", "loss"}`` with roles user/assistant/tool."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            return "a system turn after the first turn (ms-swift cannot place it)"
        content = m.content
        if m.reasoning is not None:
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        if m.role != "assistant" or not m.tool_calls:
            out.append({"role": m.role, "content": content, "loss": m.train})
            continue
        if agent is None:
            return "tool calls need an agent template (pass the agent_template option)"
        if content:
            out.append({"role": "assistant", "content": content, "loss": m.train})
        calls = format_tool_calls(agent, m.tool_calls)
        out.append({"role": "assistant", "content": calls, "loss": m.train})
    return out


def _prepare(
    sample: Sample, meta: dict[str, Any], agent: str | None
) -> tuple[str | None, list[_Turn]] | str:
    """(system, turns) after ``_swift_prepare_inputs`` and ``_get_std_messages``, or why
    ms-swift's encode fails on the sample."""
    msgs = list(sample.messages)
    system = None
    if msgs and msgs[0].role == "system":
        system, msgs = msgs[0].content, msgs[1:]
    raw = _raw_turns(msgs, agent)
    if isinstance(raw, str):
        return raw
    if not raw:
        return "no turn after the system prompt"
    turns: list[_Turn] = []
    i = 0
    while i < len(raw):
        m = raw[i]
        if m["role"] == "tool":
            results = []
            while i < len(raw) and raw[i]["role"] == "tool":
                results.append(raw[i]["content"])
                i += 1
            if agent is None:
                return "tool results need an agent template (pass the agent_template option)"
            prev = turns[-1] if turns else None
            if prev is not None and prev.role == "assistant" and prev.parts:
                texts, pieces = format_tool_results(
                    agent, [t for t, _ in prev.parts], results, meta
                )
                prev.parts = [(t, flag) for t, (_, flag) in zip(texts, prev.parts, strict=True)]
                turns.append(_Turn("tool", pieces=pieces))
            elif prev is not None and prev.role == "user":
                prev.text += format_standalone_results(agent, results, meta)
            else:
                return "a tool result must follow a tool call or a user turn"
            continue
        prev = turns[-1] if turns else None
        if m["role"] == "user":
            if prev is not None and prev.role == "user":
                prev.text += m["content"]  # consecutive user turns: one text
            else:
                turns.append(_Turn("user", text=m["content"]))
        elif prev is not None and prev.role == "assistant" and prev.parts is not None:
            prev.parts.append((m["content"], m["loss"]))  # consecutive answers: parts
        else:
            turns.append(_Turn("assistant", parts=[(m["content"], m["loss"])]))
        i += 1
    if turns[0].role == "assistant":
        turns.insert(0, _Turn("user"))  # _get_std_messages: pretraining-style row
    if len(turns) % 2:
        turns.append(_Turn("assistant"))  # ends with a query: no answer, nothing added
    for k, t in enumerate(turns):
        if (t.role == "assistant") != (k % 2 == 1):
            return f"turn {k + 1} ({t.role}) breaks the query/answer order ms-swift needs"
    return system, turns


@dataclass
class SwiftProfile(StagedProfile):
    """ms-swift 4.6 SFT encoding; ``template`` is an ms-swift template type (default ``qwen``).
    Options, by ms-swift's own names: ``truncation_strategy`` (``delete``, the default, ``left``
    or ``right``), ``loss_scale`` (``default``, ``last_round`` or ``all``), ``agent_template``
    (``hermes``, ``react_en``, ``react_zh``; default: the template type's own), ``default_system``.

    ms-swift's ``jinja`` backend (the tokenizer's own chat template) with option ``chat_template``
    (a Jinja string; ``get_profile`` sets it for ``template="tokenizer"`` or a template file) or
    ``template_backend="jinja"`` (the tokenizer's template). There ``swift_template`` names the
    ms-swift template type whose default system and agent template apply (default
    ``qwen3_nothinking``: no default system, ``hermes``)."""

    name = "swift"

    def __post_init__(self) -> None:
        unknown = set(self.options) - {*OPTIONS, *RUN_OPTIONS}
        if unknown:
            raise TokenizeError(
                f"unknown swift option(s): {', '.join(sorted(unknown))}",
                hint=f"ms-swift options the profile follows: {', '.join(OPTIONS + RUN_OPTIONS)}",
            )
        self.strategy = self.options.get("truncation_strategy", "delete")
        if self.strategy not in ("delete", "left", "right"):
            raise TokenizeError(
                f"unknown truncation_strategy {self.strategy!r}", hint="use delete, left or right"
            )
        self.loss_scale = self.options.get("loss_scale", "default")
        if self.loss_scale not in LOSS_SCALES:
            raise TokenizeError(
                f"loss_scale {self.loss_scale!r} is not reproduced",
                hint=f"use one of: {', '.join(LOSS_SCALES)}",
            )
        agent = self.options.get("agent_template")
        if agent is not None and agent not in AGENT_TEMPLATES:
            raise TokenizeError(
                f"agent_template {agent!r} is not reproduced",
                hint=f"use one of: {', '.join(AGENT_TEMPLATES)}",
            )
        backend = self.options.get("template_backend")
        if backend not in (None, "swift", "jinja"):
            raise TokenizeError(
                f"unknown template_backend {backend!r}", hint="use 'swift' or 'jinja'"
            )
        self.chat_template: str | None = None
        if self.options.get("chat_template") is not None or backend == "jinja":
            self._init_jinja()
            return
        if "swift_template" in self.options:
            raise TokenizeError(
                "swift option 'swift_template' is for the jinja backend (a tokenizer's chat "
                "template)",
                hint="name the ms-swift template type as the template instead",
            )
        name, note = swift_template(self.tokenizer, self.template)
        self.notes = [note] if note else []
        if name not in SWIFT_TEMPLATES:
            raise TemplateError(
                f"unknown ms-swift template '{name}'",
                hint=f"use one of: {', '.join(SWIFT_TEMPLATES)}",
            )
        self.meta = SWIFT_TEMPLATES[name]
        self.agent: str | None = agent or self.meta["agent_template"]
        self.default_system = self.options.get("default_system", self.meta["default_system"])
        self.suffix_ids = encode_texts(self.tokenizer, self.meta["suffix"])[0]
        self.bos: list[int] = []
        self.sep: list[int] = []
        if self.meta["auto_add_bos"]:
            full = list(self.tokenizer.encode("a"))
            single = list(self.tokenizer.encode("a", add_special_tokens=False))
            at = full.index(single[0])
            self.bos, self.sep = full[:at], full[at + 1 :]
        stops = list(self.meta["stop_words"])
        suffix_stop = self.meta["suffix"][-1].strip()
        self.stop_words = [*stops, suffix_stop] if suffix_stop not in stops else stops

    def _init_jinja(self) -> None:
        """ms-swift's ``template_backend='jinja'``: the tokenizer's (or the given) chat template."""
        tpl = self.options.get("chat_template") or getattr(self.tokenizer, "chat_template", None)
        if not isinstance(tpl, str):
            raise TemplateError(
                "the tokenizer has no chat template for ms-swift's jinja backend",
                hint="pass --template with a .jinja file, or name an ms-swift template type",
            )
        if self.template is not None:
            raise TokenizeError(
                f"ms-swift template '{self.template}' and a chat template were both given",
                hint="the jinja backend renders with the chat template; use option swift_template "
                "for the ms-swift template type",
            )
        if self.loss_scale != "default":
            raise TokenizeError(
                "ms-swift's jinja backend trains the whole rendered text: loss_scale does not apply",
                hint="leave loss_scale out, or name an ms-swift template type",
            )
        self.chat_template = tpl
        kind = self.options.get("swift_template", "qwen3_nothinking")
        if kind not in JINJA_TEMPLATE_TYPES:
            raise TemplateError(
                f"unknown ms-swift template type '{kind}' for the jinja backend",
                hint=f"use one of: {', '.join(JINJA_TEMPLATE_TYPES)}",
            )
        self.default_system, self.agent = JINJA_TEMPLATE_TYPES[kind]
        self.agent = self.options.get("agent_template") or self.agent
        if "default_system" in self.options:
            self.default_system = self.options["default_system"]

    def _jinja_plan(self, samples: list[Sample]) -> tuple[Any, list[str]]:
        """``_jinja_encode``: per sample the index of its rendered text, or a Rejected."""
        from jinja2 import TemplateError as JinjaError

        template = self.chat_template
        assert template is not None  # the jinja backend is chosen only with a template
        plans: list[Any] = []
        texts: list[str] = []
        for s in samples:
            prepared = jinja_conversation(s, self.default_system, self.agent)
            if isinstance(prepared, str):
                plans.append(self.reject(s, prepared))
                continue
            messages, add_generation_prompt = prepared
            kwargs: dict[str, Any] = {}
            if s.tools:
                kwargs["tools"] = swift_tools(s.tools)
            try:
                # bounded like every render (chat/jinja_bounds.py): a sample that drives the
                # template past its bounds is rejected with the reason
                text = bounded_apply(
                    self.tokenizer,
                    messages,
                    chat_template=template,
                    name=self.name,
                    tokenize=False,
                    add_generation_prompt=add_generation_prompt,
                    **kwargs,
                )
            except (TemplateError, JinjaError, TypeError, ValueError) as exc:
                # raise_exception, or an error inside the template (``tojson`` of an undefined
                # value...): ms-swift's encode raises the same, so the row is not trained
                plans.append(self.reject(s, f"the chat template refused it: {exc}"))
                continue
            if not text:
                plans.append(self.reject(s, "the chat template rendered nothing"))
                continue
            plans.append(len(texts))
            texts.append(text)
        return plans, texts

    def _jinja_build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]]
    ) -> list[Encoded | Rejected]:
        """One context with loss scale 1.0: every token is a label, then the first is not."""
        out: list[Encoded | Rejected] = []
        for s, k in zip(samples, plan, strict=True):
            if isinstance(k, Rejected):
                out.append(k)
                continue
            row = list(ids[k])
            labels = [IGNORE_INDEX, *row[1:]]
            out.append(self._truncate(s, row, labels))
        return out

    def _contexts(
        self, system: str | None, turns: list[_Turn], tools: list[dict[str, Any]] | None
    ) -> list[tuple[str | list[int], bool]]:
        """``_get_system`` + ``_swift_encode`` + the loss scale + ``_simplify_context_list``:
        the row as (text or ids, trained) pieces."""
        meta = self.meta
        if system is None:
            system = self.default_system
        if tools:
            assert self.agent is not None  # checked by the caller
            system = format_tools(self.agent, swift_tools(tools), system)
        # (context, kind, loss flag, responses before it): kind "other", "response" or "suffix"
        ctx: list[tuple[str | list[int], str, bool | None, int]] = []
        if self.bos:
            ctx.append((self.bos, "other", None, 0))

        def add(pieces: list[str], query: str | None, done: int) -> None:
            for p in pieces:  # _concat_context_list: placeholders filled, empty pieces skipped
                for key, value in (
                    ("{{SYSTEM}}", system),
                    ("{{QUERY}}", query),
                    ("{{ROUND0}}", str(done)),
                    ("{{ROUND1}}", str(done + 1)),
                ):
                    if value is not None and key in p:
                        p = p.replace(key, value)
                if p:
                    ctx.append((p, "other", None, done))

        add(meta["system_prefix"] if system else meta["prefix"], None, 0)
        n_round = len(turns) // 2
        for i in range(n_round):
            query, answer = turns[2 * i], turns[2 * i + 1]
            if query.role == "tool":
                add(query.pieces or [], "", i)
            else:
                add(meta["prompt"], query.text, i)
            if answer.parts is None:
                continue  # the conversation ends with a query: no answer, no suffix
            ctx += [(text, "response", loss, i) for text, loss in answer.parts]
            if i < n_round - 1:
                if turns[2 * (i + 1)].role != "tool":
                    ctx += [(p, "other", None, i + 1) for p in meta["chat_sep"]]
            elif not self.sep and not any(answer.parts[-1][0].endswith(w) for w in self.stop_words):
                ctx += [(p, "suffix", None, i + 1) for p in meta["suffix"]]
        if self.sep:
            ctx.append((self.sep, "suffix", None, n_round))
        last_query = max(k for k, t in enumerate(turns) if t.role in ("user", "tool"))
        merged: list[tuple[str | list[int], bool]] = []
        for piece, kind, loss, done in ctx:
            assistant = kind != "other"
            last_round = 2 * done >= last_query
            trained = bool(loss) or (
                loss is None
                and (
                    self.loss_scale == "all"
                    or (self.loss_scale == "default" and assistant)
                    or (self.loss_scale == "last_round" and assistant and last_round)
                )
            )
            if isinstance(piece, str):
                if not piece:
                    continue  # _split_special_tokens drops empty texts
                if merged and isinstance(merged[-1][0], str) and merged[-1][1] == trained:
                    merged[-1] = (merged[-1][0] + piece, trained)
                    continue
            merged.append((piece, trained))
        return merged

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        """Per sample a Rejected or its pieces as (index of the text or the ids, trained)."""
        if self.chat_template is not None:
            return self._jinja_plan(samples)
        index: dict[str, int] = {}
        plans: list[Any] = []
        for s in samples:
            if s.tools and self.agent is None:
                plans.append(self.reject(s, "tools need an agent template (option agent_template)"))
                continue
            prepared = _prepare(s, self.meta, self.agent)
            if isinstance(prepared, str):
                plans.append(self.reject(s, prepared))
                continue
            try:
                contexts = self._contexts(prepared[0], prepared[1], s.tools)
            except ValueError as exc:  # a tool ms-swift's agent template refuses
                plans.append(self.reject(s, str(exc)))
                continue
            pieces: list[tuple[int | list[int], bool]] = []
            for piece, trained in contexts:
                # each distinct text once: its position among the chunk's texts
                key = index.setdefault(piece, len(index)) if isinstance(piece, str) else piece
                pieces.append((key, trained))
            plans.append(pieces)
        return plans, list(index)

    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: Any
    ) -> list[Encoded | Rejected]:
        if self.chat_template is not None:
            return self._jinja_build(samples, plan, ids)
        out: list[Encoded | Rejected] = []
        for s, pieces in zip(samples, plan, strict=True):
            if isinstance(pieces, Rejected):
                out.append(pieces)
                continue
            row: list[int] = []
            labels: list[int] = []
            for k, trained in pieces:
                piece = ids[k] if isinstance(k, int) else k
                row += piece
                labels += piece if trained else [IGNORE_INDEX] * len(piece)
            self._add_dynamic_eos(row, labels)
            if labels:
                labels[0] = IGNORE_INDEX
            out.append(self._truncate(s, row, labels))
        return out

    def _add_dynamic_eos(self, ids: list[int], labels: list[int]) -> None:
        """A masked stretch after a trained one that starts with the suffix's ids, and that runs
        to the next trained token or to the end of the row, gets those ids trained."""
        suffix = self.suffix_ids
        n, start = len(suffix), 0
        for i in range(1, len(labels) + 1):
            if labels[i - 1] >= 0 and i < len(labels) and labels[i] == IGNORE_INDEX:
                start = i
            elif (
                start > 0
                and labels[i - 1] == IGNORE_INDEX
                and (i == len(labels) or labels[i] >= 0)
                and i - start >= n
                and ids[start : start + n] == suffix
            ):
                labels[start : start + n] = suffix

    def _truncate(self, sample: Sample, ids: list[int], labels: list[int]) -> Encoded | Rejected:
        if self.max_length is not None and len(ids) > self.max_length:
            if self.strategy == "delete":
                return self.reject(
                    sample, f"{len(ids)} tokens > max_length {self.max_length} (deleted)"
                )
            sl = (
                slice(-self.max_length, None)
                if self.strategy == "left"
                else slice(None, self.max_length)
            )
            ids, labels = ids[sl], labels[sl]
            if labels:
                labels[0] = IGNORE_INDEX  # ms-swift's _truncate masks the new first token too
        return Encoded(ids, labels, [1] * len(ids), sample.id)
