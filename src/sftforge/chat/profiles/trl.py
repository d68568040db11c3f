"""The ``trl`` profile: ids and labels exactly as TRL 1.16 ``SFTTrainer`` prepares a chat dataset.

What is reproduced (read from TRL 1.16.0, ``trl/trainer/sft_trainer.py`` ``_prepare_dataset`` and
``trl/data_utils.py`` ``_tokenize``):

* **Segmenting** - none: the whole conversation is rendered by the tokenizer's chat template
  (``apply_chat_template(..., tokenize=True, return_dict=True)``, which tokenizes the rendered text
  once with ``add_special_tokens=False``); the sample's tools go to the template as they are (key
  order kept: ``tojson`` writes keys in their order, and the export writes the tools column as
  JSON text, which TRL parses back). TRL adds no BOS and no EOS to conversational data: whatever
  the template writes is what is trained.
* **Masking** - ``assistant_only_loss=True``: labels keep the tokens inside the template's
  ``{% generation %}`` spans (transformers' ``return_assistant_tokens_mask``), ``-100`` elsewhere; a
  row with no assistant token makes TRL raise, here it is rejected. ``completion_only_loss`` on the
  ``prompt_completion`` layout (prompt = every turn before the last answer, completion = the last
  answer): the completion starts where the tokenized prompt (with ``add_generation_prompt=True``)
  and the tokenized whole conversation stop sharing a prefix (``common_prefix_length``). With neither,
  labels equal ids.
* **Truncation** - ``max_length`` (TRL's default 1024) with ``truncation_mode`` ``keep_start`` or
  ``keep_end``; rows left without a trained token after truncation are dropped (rejected here).

The template is decided by :func:`~sftforge.chat.profiles.trl_template.decide_trl_template`, the
same decision ``export --for trl`` writes into its script: with ``assistant_only_loss`` and a
template without generation marks, a checked marked copy of it (the export ships that copy as
``chat_template.jinja``, ``chat_template_path`` in the config); when no copy can be made, refused.
Not reproduced: packing, vision processors, plain-text (``text`` column) datasets.

Every render is bounded (``hf_bounds``: transformers' ``apply_chat_template`` with the template
compiled in sftforge's bounded sandbox; same ids): a sample that drives the template past a bound,
or makes it raise, is rejected with the reason (TRL would hang or crash on it), the others kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from ..jinja_bounds import DEFAULT_BOUNDS, Bounds
from .base import IGNORE_INDEX, Encoded, Rejected, StagedProfile, TextEncoder
from .hf_bounds import bounded_apply
from .trl_template import decide_trl_template, given_template

__all__ = [
    "TRL_OPTIONS",
    "TrlProfile",
    "common_prefix_length",
    "to_trl_messages",
    "to_trl_record",
]

# the SFTConfig options (TRL's names) that change the tokens, and the dataset layout
TRL_OPTIONS: tuple[str, ...] = (
    "assistant_only_loss",
    "completion_only_loss",
    "truncation_mode",
    "chat_template_path",
    "chat_template",
    "layout",
)


def to_trl_messages(sample: Sample) -> list[dict[str, Any]]:
    """OpenAI-style message dicts as TRL hands them to ``apply_chat_template``."""
    out: list[dict[str, Any]] = []
    for m in sample.messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.reasoning is not None:
            msg["reasoning_content"] = m.reasoning
        if m.tool_calls:
            msg["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                | ({"id": c.id} if c.id else {})
                for c in m.tool_calls
            ]
        if m.name is not None:
            msg["name"] = m.name
        if m.tool_call_id is not None:
            msg["tool_call_id"] = m.tool_call_id
        out.append(msg)
    return out


def to_trl_record(sample: Sample, *, layout: str = "messages") -> dict[str, Any]:
    """One row of a TRL dataset: ``messages`` or ``prompt``/``completion``, plus ``tools``."""
    msgs = to_trl_messages(sample)
    if layout == "prompt_completion":
        last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        record: dict[str, Any] = {"prompt": msgs[:last], "completion": msgs[last:]}
    else:
        record = {"messages": msgs}
    if sample.tools:
        record["tools"] = sample.tools
    return record


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _masked(ids: list[int], masks: list[list[int]]) -> list[int]:
    """``ids`` where every mask is 1, else -100 (no mask: every token trained)."""
    if not masks:
        return list(ids)
    if len(masks) == 1:
        return [t if k else IGNORE_INDEX for t, k in zip(ids, masks[0], strict=True)]
    return [t if all(ks) else IGNORE_INDEX for t, *ks in zip(ids, *masks, strict=True)]


def _flag(opts: dict[str, Any], key: str, default: bool) -> bool:
    value = opts.get(key, default)
    if not isinstance(value, bool):
        raise TokenizeError(
            f"trl option {key} must be true or false, not {value!r}",
            field="option",
            hint=f"for example --option {key}=true",
        )
    return value


@dataclass
class TrlProfile(StagedProfile):
    """TRL 1.16 SFT encoding. Options (TRL's names, :data:`TRL_OPTIONS`): ``assistant_only_loss``
    (default: as ``export --for trl`` writes it, True when the template has generation marks or
    a checked marked copy can be made, else False - TRL's own default is False), ``completion_only_loss`` (default: True for the prompt_completion layout),
    ``truncation_mode``, ``chat_template_path`` (a ``.jinja`` file, as in SFTConfig),
    ``chat_template`` (the template's text), ``layout`` (``messages`` | ``prompt_completion``: the
    dataset's columns). ``max_length`` is TRL's (``None`` means TRL's default, 1024);
    ``template`` (``--template``: a built-in name or a file) is the chat template TRL renders with.
    """

    name = "trl"
    bounds: Bounds = DEFAULT_BOUNDS  # per render (time, size, loop steps, call depth)

    def __post_init__(self) -> None:
        opts = dict(self.options)
        if self.max_length is None:
            self.max_length = 1024
        unknown = set(opts) - set(TRL_OPTIONS)
        if unknown:
            raise TokenizeError(
                f"unknown trl option(s): {', '.join(sorted(unknown))}",
                field="option",
                hint=f"TRL options sftforge encodes: {', '.join(TRL_OPTIONS)}",
            )
        self.layout = opts.get("layout", "messages")
        if self.layout not in ("messages", "prompt_completion"):
            raise TokenizeError(
                f"trl layout must be 'messages' or 'prompt_completion', not {self.layout!r}"
            )
        # not given: the export's default (answers only when the template can be marked), so
        # `tokenize --profile trl` shows what `export --for trl` trains without options
        asked = (
            None
            if opts.get("assistant_only_loss") is None
            else _flag(opts, "assistant_only_loss", False)
        )
        col = opts.get("completion_only_loss")
        self.completion_only = (
            (self.layout == "prompt_completion")
            if col is None
            else _flag(opts, "completion_only_loss", False)
        )
        self.truncation_mode = opts.get("truncation_mode", "keep_start")
        if self.truncation_mode not in ("keep_start", "keep_end"):
            raise TokenizeError(f"unsupported truncation_mode {self.truncation_mode!r}")
        decided = decide_trl_template(
            self.tokenizer,
            given_template(self.tokenizer, self.template, opts),
            assistant_only_loss=True if asked is None else asked,
            fallback=asked is None,  # asked for: refused with the reason, never quietly changed
        )
        self.chat_template: str = decided.source
        self.assistant_only = decided.assistant_only_loss
        self.notes = decided.notes

    def _render_ids(self, convs: list[list[dict[str, Any]]], tools: Any, **kw: Any) -> Any:
        return bounded_apply(
            self.tokenizer,
            convs,
            tools=tools,
            chat_template=self.chat_template,
            bounds=self.bounds,
            name=self.name,
            tokenize=True,
            return_dict=True,
            **kw,
        )

    # Staged (``StagedProfile``): with TRL's default masking (every token trained, no
    # completion mask) a row is the template's text tokenized, which is what
    # ``apply_chat_template(tokenize=True)`` does (``tokenizer(text, add_special_tokens=False)``),
    # so the texts are rendered here and tokenized in one batched call in the worker thread while
    # the next chunk renders. The masked modes need the token offsets of that call (assistant
    # masks) or a second render (completion masks): those chunks are encoded whole in ``_plan``.
    def _text_encoder(self) -> TextEncoder:
        # the rendered texts share stretches (system prompts, role headers, repeated questions):
        # each distinct one is encoded once per stream (``chat.pieces``), with the same ids
        return TextEncoder(self.tokenizer, pieces=True)

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        by_text = self.layout == "messages" and not self.assistant_only
        results: list[Encoded | Rejected | None] = [None] * len(samples)
        texts: list[str] = []
        rows: list[tuple[int, int]] = []  # (sample, text) of each row tokenized in _build
        for idx, tools in self._groups(samples, results).values():
            group = [samples[i] for i in idx]
            if not by_text:
                for i, row in zip(idx, self._encode_group(group, tools), strict=True):
                    results[i] = row
                continue
            for i, text in zip(idx, self._render_group(group, tools), strict=True):
                if isinstance(text, Rejected):
                    results[i] = text
                else:
                    rows.append((i, len(texts)))
                    texts.append(text)
        return (results, rows), texts

    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: Any
    ) -> list[Encoded | Rejected]:
        results, rows = plan
        for i, k in rows:
            results[i] = self._truncate(samples[i], ids[k], list(ids[k]))
        return [r for r in results if r is not None]

    def _groups(
        self, samples: Sequence[Sample], results: list[Encoded | Rejected | None]
    ) -> dict[str, tuple[list[int], Any]]:
        """The samples with an assistant turn by their tools (others rejected into ``results``):
        ``{tools JSON: (indices, tools)}``."""
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            if not any(m.role == "assistant" for m in s.messages):
                results[i] = self.reject(s, "no assistant turn")
                continue
            # grouped by their JSON in the order written: TRL renders each row's tools as they
            # are (key order kept by tojson), so two lists that differ only in order differ
            groups.setdefault(json.dumps(s.tools or None, ensure_ascii=False), []).append(i)
        # TRL passes None for a row without tools
        return {k: (idx, samples[idx[0]].tools or None) for k, idx in groups.items()}

    def _render_group(self, samples: list[Sample], tools: Any) -> list[str | Rejected]:
        """The group's texts in one batched render; when the template fails on one of them,
        each sample again on its own, so only the failing ones are rejected."""
        try:
            return list(
                bounded_apply(
                    self.tokenizer,
                    [to_trl_messages(s) for s in samples],
                    tools=tools,
                    chat_template=self.chat_template,
                    bounds=self.bounds,
                    name=self.name,
                    tokenize=False,
                )
            )
        except TemplateError as exc:
            if len(samples) == 1:
                return [self.reject(samples[0], str(exc))]
        return [text for s in samples for text in self._render_group([s], tools)]

    def _encode_group(self, samples: list[Sample], tools: Any) -> list[Encoded | Rejected]:
        """The group in one batched render; when the template fails on one of them (a bound, or
        an error it raises), each sample again on its own, so only the failing ones are rejected
        (one render per sample gives the same ids as the batch: no padding)."""
        try:
            return self._encode_rendered(samples, tools)
        except TemplateError as exc:
            if len(samples) == 1:
                return [self.reject(samples[0], str(exc))]
        return [row for s in samples for row in self._encode_group([s], tools)]

    def _encode_rendered(self, samples: list[Sample], tools: Any) -> list[Encoded | Rejected]:
        records = [to_trl_record(s, layout=self.layout) for s in samples]
        if self.layout == "messages":
            full = self._render_ids(
                [r["messages"] for r in records],
                tools,
                return_assistant_tokens_mask=self.assistant_only,
            )
            completion_masks = None
        else:
            full = self._render_ids(
                [r["prompt"] + r["completion"] for r in records],
                tools,
                return_assistant_tokens_mask=self.assistant_only,
            )
            prompts = self._render_ids(
                [r["prompt"] for r in records], tools, add_generation_prompt=True
            )["input_ids"]
            completion_masks = []
            for p, ids in zip(prompts, full["input_ids"], strict=True):
                n = common_prefix_length(p, ids)
                completion_masks.append([0] * n + [1] * (len(ids) - n))
        out: list[Encoded | Rejected] = []
        for j, s in enumerate(samples):
            ids = list(full["input_ids"][j])
            masks: list[list[int]] = []
            if self.completion_only and completion_masks is not None:
                masks.append(completion_masks[j])
            if self.assistant_only:
                amask = list(full["assistant_masks"][j])
                if 1 not in amask:
                    out.append(
                        self.reject(s, "no assistant tokens in the template's generation spans")
                    )
                    continue
                masks.append(amask)
            labels = _masked(ids, masks)
            out.append(self._truncate(s, ids, labels))
        return out

    def _truncate(self, sample: Sample, ids: list[int], labels: list[int]) -> Encoded | Rejected:
        if self.max_length is not None:
            sl = (
                slice(None, self.max_length)
                if self.truncation_mode == "keep_start"
                else slice(-self.max_length, None)
            )
            ids, labels = ids[sl], labels[sl]
            if all(t == IGNORE_INDEX for t in labels):
                return self.reject(
                    sample, f"no trained token left after truncation to {self.max_length}"
                )
        return Encoded(ids, labels, [1] * len(ids), sample.id)
