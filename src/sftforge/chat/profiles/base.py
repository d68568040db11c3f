"""What every trainer profile shares: the encoded row, the rejected row, the profile base class.

A profile turns a :class:`~sftforge.sample.Sample` into the ``input_ids`` / ``labels`` /
``attention_mask`` that one training framework would build from the same conversation, with that
framework's own segmenting, BOS/EOS and masking rules (each subclass says which version it follows).
Labels are unshifted, ``-100`` where no loss is taken, exactly as the frameworks hand them to the
model. A sample the framework would drop (bad role order, nothing left to train) comes back as a
:class:`Rejected` with the reason, never as a silently missing row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar

from ..._gc import gc_bulk, gc_paused
from ...errors import TokenizeError
from ...sample import Sample
from ..overlap import overlapped
from ..pieces import PieceEncoder

__all__ = [
    "IGNORE_INDEX",
    "Encoded",
    "Profile",
    "Rejected",
    "StagedProfile",
    "TextEncoder",
    "encode_texts",
    "load_tokenizer",
]

IGNORE_INDEX = -100


@dataclass(slots=True)
class Encoded:
    """One tokenized training row."""

    input_ids: list[int]
    labels: list[int]
    attention_mask: list[int]
    sample_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.sample_id,
            "input_ids": self.input_ids,
            "labels": self.labels,
            "attention_mask": self.attention_mask,
        }

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE_INDEX)


@dataclass(slots=True)
class Rejected:
    """A sample the framework would not turn into a row, and why."""

    sample_id: str
    reason: str
    profile: str = ""


@dataclass
class Profile:
    """Base class: subclasses implement :meth:`encode_batch` (batched for speed) or :meth:`encode`.

    ``template`` is a template name in the framework's own terms (LLaMA-Factory's ``qwen``,
    ``llama3``...). ``max_length`` is the framework's cutoff (``cutoff_len``, ``max_length``...);
    ``None`` means no truncation. ``options`` holds the framework's own switches by their names.
    """

    name: ClassVar[str] = ""
    tokenizer: Any
    template: str | None = None
    max_length: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # what the profile's template decision warns about (a built-in that renders differently from
    # the tokenizer's own...); `tokenize --profile` prints them
    notes: list[str] = field(default_factory=list, init=False)

    def encode(self, sample: Sample) -> Encoded:
        """Encode one sample; raises :class:`TokenizeError` when the framework would drop it."""
        (out,) = self.encode_batch([sample])
        if isinstance(out, Rejected):
            raise TokenizeError(out.reason, sample_id=out.sample_id)
        return out

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        raise NotImplementedError

    def encode_stream(
        self, samples: Iterable[Sample], *, batch_size: int = 4096
    ) -> Iterator[Encoded | Rejected]:
        """One row or reject per sample, in input order, for any iterable of samples."""
        it = iter(samples)
        while batch := list(islice(it, batch_size)):
            yield from self.encode_batch(batch)

    def reject(self, sample: Sample, reason: str) -> Rejected:
        return Rejected(sample.id, reason, self.name)


def load_tokenizer(path: str) -> Any:
    """A ``transformers`` tokenizer from a local folder or a cached model id: the one loader,
    ``chat.encode.load_tokenizer``, under the name the profiles have always exported."""
    from ..encode import load_tokenizer as load

    return load(path)


def _rust_backend(tokenizer: Any) -> Any:
    """The Rust ``tokenizers.Tokenizer`` to call directly, or None when that would not be exact."""
    backend: Any = getattr(tokenizer, "_tokenizer", None)
    direct = (
        getattr(tokenizer, "is_fast", False)
        and not getattr(tokenizer, "split_special_tokens", False)
        and backend is not None
        and backend.truncation is None
        and backend.padding is None
    )
    return backend if direct else None


def encode_texts(tokenizer: Any, texts: Iterable[str]) -> list[list[int]]:
    """Token ids of many strings in one batched call, without special tokens added.

    Equal to ``tokenizer.encode(text, add_special_tokens=False)`` for each text, which is what the
    frameworks call per segment. A fast tokenizer with no truncation/padding configured goes
    straight to its Rust backend (``encode_batch_fast``: no offsets, all cores), which is what
    transformers itself calls underneath; anything else goes through ``tokenizer(...)``.
    """
    enc = TextEncoder(tokenizer)
    return enc.ids(enc.run(list(texts)))


class TextEncoder:
    """:func:`encode_texts` in two steps, so the first can run in another thread.

    ``run`` does the tokenization (for a Rust tokenizer: ``encode_batch_fast``, which releases the
    GIL while it works, so Python code can go on meanwhile); ``ids`` turns its result into lists of
    ids. ``threaded`` says whether running ``run`` in a thread can overlap with Python work.
    ``pieces=True`` is for whole rendered texts (many stretches in common between texts): each
    distinct stretch between added tokens is encoded once per encoder (``chat.pieces``), with the
    same ids; ``run`` then gives the ids itself.
    """

    def __init__(self, tokenizer: Any, *, pieces: bool = False) -> None:
        self.tokenizer = tokenizer
        backend = _rust_backend(tokenizer)
        self._fast: Callable[..., Any] | None = None
        self._pieces: PieceEncoder | None = None
        if backend is not None:
            self._fast = getattr(backend, "encode_batch_fast", backend.encode_batch)
            if pieces:  # whole rendered texts: each stretch between added tokens encoded once
                self._pieces = PieceEncoder(backend, self._fast)
        self.threaded = self._fast is not None

    def run(self, texts: list[str]) -> Any:
        if not texts:
            return []
        if self._pieces is not None:
            return self._pieces.ids(texts)
        if self._fast is not None:
            return self._fast(texts, add_special_tokens=False)
        out = self.tokenizer(
            texts,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(ids) for ids in out["input_ids"]]

    def ids(self, raw: Any) -> list[list[int]]:
        if self._fast is not None and self._pieces is None:
            return [e.ids for e in raw]
        return raw


# A staged profile's chunks: small first, so tokenization starts at once, then up to the largest.
FIRST_CHUNK = 64
MAX_CHUNK = 2048
GROWTH = 4


def _chunks(samples: Iterable[Sample], first: int, largest: int) -> Iterator[list[Sample]]:
    it = iter(samples)
    size = first
    while chunk := list(islice(it, size)):
        yield chunk
        size = min(size * GROWTH, largest)


class StagedProfile(Profile):
    """A profile that encodes in three steps, overlapped across chunks of samples.

    ``_plan(samples, state)`` (Python) says which strings to tokenize, each on its own, and keeps
    what else it needs; the strings are tokenized in one batched call (:class:`TextEncoder`); then
    ``_build(samples, plan, ids, state)`` (Python) assembles the rows, one per sample, in order.
    ``state`` is the stream's own (``_stream_state()``), for what chunks share; chunks are planned
    ahead but always built in order. With a Rust tokenizer the tokenization of one chunk runs in a
    worker thread while this thread plans the next chunks and builds the previous one, so the
    Python work hides behind the Rust work. Every step is deterministic and each string is
    tokenized on its own, so the rows are the same whatever the chunking: ``encode_batch`` is
    ``encode_stream`` collected.
    """

    def _plan(self, samples: list[Sample], state: Any) -> tuple[Any, list[str]]:
        raise NotImplementedError

    def _build(
        self, samples: list[Sample], plan: Any, ids: list[list[int]], state: Any
    ) -> list[Encoded | Rejected]:
        raise NotImplementedError

    def _stream_state(self) -> Any:
        """What the chunks of one stream share (None unless a profile needs something)."""
        return None

    def _text_encoder(self) -> TextEncoder:
        return TextEncoder(self.tokenizer)

    def encode_batch(self, samples: Iterable[Sample]) -> list[Encoded | Rejected]:
        """All rows at once (``samples`` may be any iterable, read as it goes)."""
        out: list[Encoded | Rejected] = []
        small = isinstance(samples, Sized) and len(samples) <= FIRST_CHUNK
        # bulk work: collect rarely, and hand the rows back as old objects (not for a few samples,
        # as in a loop over encode(), where that would keep every young object from collection)
        with nullcontext() if small else gc_bulk():
            for rows in self._chunk_rows(samples, MAX_CHUNK, FIRST_CHUNK, True):
                out += rows
        return out

    def encode_stream(
        self,
        samples: Iterable[Sample],
        *,
        batch_size: int = MAX_CHUNK,
        first_chunk: int = FIRST_CHUNK,
        threads: bool = True,
    ) -> Iterator[Encoded | Rejected]:
        """Rows in input order; ``batch_size`` is the largest chunk tokenized in one call,
        ``threads=False`` tokenizes in this thread, one chunk after the other."""
        for rows in self._chunk_rows(samples, batch_size, first_chunk, threads):
            yield from rows

    def _chunk_rows(
        self, samples: Iterable[Sample], largest: int, first: int, threads: bool
    ) -> Iterator[list[Encoded | Rejected]]:
        enc = self._text_encoder()
        first = max(1, min(first, largest))
        chunks = _chunks(samples, first, max(1, largest))
        if isinstance(samples, Sized) and len(samples) <= first:
            threads = False  # one chunk: nothing to overlap, no thread to start
        state = self._stream_state()
        if threads and enc.threaded:
            yield from _overlapped(self, chunks, enc, state)
            return
        for chunk in chunks:
            with gc_paused():
                plan, texts = self._plan(chunk, state)
                rows = self._build(chunk, plan, enc.ids(enc.run(texts)), state)
            yield rows


# chunks planned and handed to the worker ahead of the one being built
_AHEAD = 2


def _overlapped(
    profile: StagedProfile, chunks: Iterator[list[Sample]], enc: TextEncoder, state: Any
) -> Iterator[list[Encoded | Rejected]]:
    def plan(chunk: list[Sample]) -> tuple[tuple[list[Sample], Any], list[str]]:
        with gc_paused():
            made, texts = profile._plan(chunk, state)
        return (chunk, made), texts

    def build(planned: tuple[list[Sample], Any], raw: Any) -> list[Encoded | Rejected]:
        chunk, made = planned
        with gc_paused():
            return profile._build(chunk, made, enc.ids(raw), state)

    return overlapped(chunks, plan, enc.run, build, ahead=_AHEAD)
