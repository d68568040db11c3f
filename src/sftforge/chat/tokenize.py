"""Native tokenization: render once, tokenize once, labels from the trained character spans.

``ChatTokenizer`` binds a tokenizer, a template and the policies; ``tokenize_samples`` runs it
over many samples in batches (one batched encode call per batch, the fast path) and returns rows,
rejects and counts. Every sample ends as a row or a ``Reject`` with its reason: template errors
(``template_error``), over-long samples (``too_long``, ``too_long_last_turn``) and rows whose
labels would all be -100 (``no_trained_tokens``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._gc import gc_bulk, gc_paused, gc_relaxed
from ..errors import SftforgeError, TokenizeError
from ..ops.base import Reject
from ..sample import Sample
from .encode import (
    IGNORE_INDEX,
    encode_batch,
    labels_by_prefix,
    labels_from_encoding,
    load_tokenizer,
    rust_backend,
    special_texts,
    special_tokens_of,
)
from .overlap import overlapped
from .pieces import PieceEncoder
from .render import (
    TRAIN_ON,
    Rendered,
    TrainOn,
    check_bounds,
    compile_template,
    is_trained,
    render,
    text_renderer,
)
from .stats import TokenStats, role_token_counts
from .templates import ChatTemplate, resolve_template
from .truncate import TRUNCATION_POLICIES, Truncation, drop_oldest_turns
from .unmarked import UNSTABLE_POLICIES, NotPrefixStable, UnstablePolicy, trailer_of

__all__ = [
    "ChatTokenizer",
    "TokenizeResult",
    "TokenizedRow",
    "tokenize_samples",
]

OP_NAME = "tokenize"


@dataclass(slots=True)
class TokenizedRow:
    """One training row: unshifted ``labels`` (-100 where not trained); ``truncated`` names the
    policy that shortened it, if any."""

    id: str
    input_ids: list[int]
    labels: list[int]
    truncated: str | None = None

    @property
    def attention_mask(self) -> list[int]:
        return [1] * len(self.input_ids)

    @property
    def n_trained(self) -> int:
        return len(self.labels) - self.labels.count(IGNORE_INDEX)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input_ids": self.input_ids,
            "labels": self.labels,
            "attention_mask": self.attention_mask,
        }


@dataclass(slots=True)
class TokenizeResult:
    """Rows kept (in ``rows``, or handed to ``sink`` as they are made, so a caller can stream them
    out), the rejects, the counts and the token statistics."""

    rows: list[TokenizedRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    stats: TokenStats = field(default_factory=TokenStats)
    sink: Callable[[TokenizedRow], None] | None = None

    def keep(self, row: TokenizedRow) -> None:
        if self.sink is None:
            self.rows.append(row)
        else:
            self.sink(row)


@dataclass
class ChatTokenizer:
    """A tokenizer + template + policies. ``tokenizer`` may be a folder or a loaded tokenizer;
    ``template`` a built-in name, a ``.jinja`` path, a ``ChatTemplate``, or None (the tokenizer's own)."""

    tokenizer: Any
    template: ChatTemplate | str | None = None
    train_on: TrainOn = "all"
    reasoning: bool = True
    max_len: int | None = None
    truncation: Truncation = "drop"
    template_vars: dict[str, Any] = field(default_factory=dict)
    unstable: UnstablePolicy | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tokenizer, str | Path):
            self.tokenizer = load_tokenizer(self.tokenizer)
        if not isinstance(self.template, ChatTemplate):
            self.template = resolve_template(self.template, self.tokenizer, **self.template_vars)
        compile_template(self.template.source)  # a syntax error fails here, not once per sample
        if self.unstable is not None and self.unstable not in UNSTABLE_POLICIES:
            raise TokenizeError(
                f"unknown policy for templates that are not prefix-stable: '{self.unstable}'.",
                field="unstable",
                hint=f"use one of: {', '.join(UNSTABLE_POLICIES)}",
            )
        if self.train_on not in TRAIN_ON:
            raise TokenizeError(
                f"unknown train_on policy '{self.train_on}'.",
                field="train_on",
                hint=f"use one of: {', '.join(TRAIN_ON)}",
            )
        if self.truncation not in TRUNCATION_POLICIES:
            raise TokenizeError(
                f"unknown truncation policy '{self.truncation}'.",
                field="truncation",
                hint=f"use one of: {', '.join(TRUNCATION_POLICIES)}",
            )
        if self.max_len is not None and self.max_len < 1:
            raise TokenizeError(f"max_len must be positive, got {self.max_len}.", field="max_len")
        self.special_tokens = special_tokens_of(self.tokenizer)
        self.specials = tuple(special_texts(self.tokenizer))
        check_bounds(self.template, self.special_tokens)  # a hostile template fails the run
        self.trailer = (
            ""
            if self.template.has_marks
            else trailer_of(
                text_renderer(self.template, special_tokens=self.special_tokens),
                self.specials,
            )
        )

    # -- the steps -------------------------------------------------------------------------
    def render(self, sample: Sample, *, add_generation_prompt: bool = False) -> Rendered:
        assert isinstance(self.template, ChatTemplate)
        return render(
            sample,
            self.template,
            special_tokens=self.special_tokens,
            train_on=self.train_on,
            reasoning=self.reasoning,
            add_generation_prompt=add_generation_prompt,
            unstable=self.unstable,
            trailer=self.trailer,
            specials=self.specials,
        )

    def rows_of(self, sample: Sample) -> list[Sample]:
        """The samples one input sample becomes: itself, or under ``unstable="split"`` with an
        unmarked template one per trained assistant turn (the conversation up to that turn,
        id ``<id>#<turn>``)."""
        assert isinstance(self.template, ChatTemplate)
        if self.unstable != "split" or self.template.has_marks:
            return [sample]
        msgs = sample.messages
        turns = [i for i, m in enumerate(msgs) if m.role == "assistant"]
        out = []
        for k, i in enumerate(turns):
            m = msgs[i]
            if not is_trained(m, k, len(turns), self.train_on):
                continue
            sub = Sample(
                list(msgs[: i + 1]), tools=sample.tools, meta=sample.meta, id=f"{sample.id}#{k + 1}"
            )
            out.append(sub)
        return out or [sample]

    def encode(self, rendered: list[Rendered]) -> list[tuple[list[int], list[int], Any]]:
        """``(ids, labels, encoding)`` for many rendered texts, in one batched encode call;
        ``encoding`` is the Rust ``tokenizers.Encoding`` (None for Python-only tokenizers)."""
        return self._labelled(rendered, encode_batch(self.tokenizer, [r.text for r in rendered]))

    def _labelled(
        self, rendered: list[Rendered], encoded: list[tuple[list[int], Any]]
    ) -> list[tuple[list[int], list[int], Any]]:
        out = []
        for r, (ids, enc) in zip(rendered, encoded, strict=True):
            if enc is None:
                labels = labels_by_prefix(self.tokenizer, r.text, ids, r.spans)
            else:
                labels, _ = labels_from_encoding(ids, enc, r.spans)
            out.append((ids, labels, enc))
        return out

    def tokenize(self, sample: Sample) -> TokenizedRow:
        """One sample, with truncation and the all-masked check; raises ``SftforgeError``."""
        result = tokenize_samples([sample], self)
        if result.rejects:
            rej = result.rejects[0]
            raise TokenizeError(f"{rej.reason}: {rej.value}", sample_id=sample.id)
        return result.rows[0]

    def length(self, sample: Sample) -> int:
        return len(self.encode([self.render(sample)])[0][0])


def tokenize_samples(
    samples: Iterable[Sample],
    tokenizer: Any,
    template: ChatTemplate | str | None = None,
    *,
    batch_size: int = 1024,
    role_stats: bool = True,
    threads: bool = True,
    sink: Callable[[TokenizedRow], None] | None = None,
    **options: Any,
) -> TokenizeResult:
    """Tokenize and mask ``samples``; ``tokenizer`` is a folder, a loaded tokenizer or a ready
    ``ChatTokenizer`` (then ``template`` and ``options`` must be left out). ``options``:
    ``train_on``, ``reasoning``, ``max_len``, ``truncation``, ``template_vars``.

    With a Rust tokenizer and more than one batch, each batch is encoded in a worker thread (the
    tokenizer releases the GIL) while this thread renders the next one and masks the previous
    one; ``threads=False`` does it all here. The result is the same either way. With ``sink``,
    each kept row is handed to it in input order instead of being collected in ``rows``."""
    chat = (
        tokenizer
        if isinstance(tokenizer, ChatTokenizer)
        else ChatTokenizer(tokenizer, template, **options)
    )
    result = TokenizeResult(sink=sink)
    if isinstance(samples, Sized) and len(samples) <= batch_size:  # one batch: nothing to overlap
        return _tokenize_serial(chat, samples, batch_size, result, role_stats)
    # bulk work, reading included (``samples`` is often a lazy reader): collect rarely; rows
    # handed back in ``result.rows`` join the oldest generation, streamed ones are gone already
    with gc_relaxed() if sink is not None else gc_bulk():
        if threads and rust_backend(chat.tokenizer) is not None:  # sets up the backend first
            _tokenize_overlapped(chat, _batches(samples, batch_size), result, role_stats)
            return result
        return _tokenize_serial(chat, samples, batch_size, result, role_stats)


def _tokenize_serial(
    chat: ChatTokenizer,
    samples: Iterable[Sample],
    batch_size: int,
    result: TokenizeResult,
    role_stats: bool,
) -> TokenizeResult:
    for batch in _batches(samples, batch_size):
        with gc_paused():
            _tokenize_batch(chat, batch, result, role_stats)
    return result


def _tokenize_overlapped(
    chat: ChatTokenizer, batches: Iterator[list[Sample]], result: TokenizeResult, role_stats: bool
) -> None:
    """Batch k+1 is rendered and batch k-1 masked while batch k is encoded in the worker."""

    def render(
        batch: list[Sample],
    ) -> tuple[tuple[_Ready, list[tuple[Sample, str, str]]], list[str]]:
        with gc_paused():
            ready, failed = _render_batch(chat, batch, result)
        return (ready, failed), [r.text for _, r in ready]

    def finish(rendered: tuple[_Ready, list[tuple[Sample, str, str]]], encoded: Any) -> None:
        ready, failed = rendered
        with gc_paused():
            labelled = chat._labelled([r for _, r in ready], encoded)
            _finish_batch(chat, ready, failed, labelled, result, role_stats)

    backend = rust_backend(chat.tokenizer)
    # each distinct stretch between added tokens encoded once per stream (chat.pieces)
    pieces = PieceEncoder(backend, backend.encode_batch)

    def encode(texts: list[str]) -> Any:
        return pieces.encodings(texts)

    for _ in overlapped(batches, render, encode, finish):
        pass


def _batches(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for s in samples:
        batch.append(s)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _reject(result: TokenizeResult, sample: Sample, reason: str, detail: str) -> None:
    result.counts[f"rejected:{reason}"] += 1
    result.rejects.append(Reject(sample, OP_NAME, reason, detail))


_Ready = list[tuple[Sample, Rendered]]


def _tokenize_batch(
    chat: ChatTokenizer, batch: list[Sample], result: TokenizeResult, role_stats: bool
) -> None:
    ready, failed = _render_batch(chat, batch, result)
    _finish_batch(chat, ready, failed, chat.encode([r for _, r in ready]), result, role_stats)


def _render_batch(
    chat: ChatTokenizer, batch: list[Sample], result: TokenizeResult
) -> tuple[_Ready, list[tuple[Sample, str, str]]]:
    """The rendered samples, and the (sample, message) of those the template failed on."""
    ready: _Ready = []
    failed: list[tuple[Sample, str, str]] = []
    for sample in batch:
        result.counts["seen"] += 1
        rows = chat.rows_of(sample)
        if len(rows) > 1:
            result.counts["split:extra_rows"] += len(rows) - 1
        for row in rows:
            try:
                ready.append((row, chat.render(row)))
            except NotPrefixStable as exc:
                failed.append((row, "not_prefix_stable", str(exc)))
            except SftforgeError as exc:
                failed.append((row, "template_error", exc.message))
    return ready, failed


def _finish_batch(
    chat: ChatTokenizer,
    ready: _Ready,
    failed: list[tuple[Sample, str, str]],
    encoded: list[tuple[list[int], list[int], Any]],
    result: TokenizeResult,
    role_stats: bool,
) -> None:
    for sample, code, message in failed:
        _reject(result, sample, code, message)
    for (sample, rendered), (ids, labels, enc) in zip(ready, encoded, strict=True):
        row = TokenizedRow(sample.id, ids, labels)
        if chat.max_len is not None and len(ids) > chat.max_len:
            try:
                row, _ = _fit(chat, sample, row)  # rejects keep the original sample
            except SftforgeError as exc:
                code = (
                    "too_long_last_turn" if chat.truncation == "drop_oldest_turns" else "too_long"
                )
                _reject(result, sample, code, exc.message)
                continue
            enc = None  # the row changed; no role counts for it
        if row.labels.count(IGNORE_INDEX) == len(row.labels):
            why = "after truncation" if row.truncated else "(no assistant turn is trained)"
            _reject(result, sample, "no_trained_tokens", f"every label is -100 {why}")
            continue
        roles = (
            role_token_counts(rendered.text, sample, enc)
            if role_stats and enc is not None
            else None
        )
        result.stats.add(row, roles)
        result.counts["kept"] += 1
        if row.truncated:
            result.counts[f"truncated:{row.truncated}"] += 1
        result.keep(row)


def _fit(chat: ChatTokenizer, sample: Sample, row: TokenizedRow) -> tuple[TokenizedRow, Sample]:
    max_len = chat.max_len
    assert max_len is not None
    n = len(row.input_ids)
    if chat.truncation == "drop":
        raise TokenizeError(f"{n} tokens > max_len {max_len} (truncation=drop)")
    if chat.truncation == "cut_answer":
        return replace(
            row,
            input_ids=row.input_ids[:max_len],
            labels=row.labels[:max_len],
            truncated="cut_answer",
        ), sample
    shorter, _dropped = drop_oldest_turns(sample, max_len, chat.length)
    ids, labels, _ = chat.encode([chat.render(shorter)])[0]
    return TokenizedRow(sample.id, ids, labels, "drop_oldest_turns"), shorter
