"""Token ids of whole rendered texts, with each distinct stretch between added tokens encoded once.

A Rust (``tokenizers``) tokenizer encodes a text in two stages: it first cuts the text at its
added tokens (``<|im_start|>``, ``<|im_end|>``, ``<think>``...: every added token that is matched
on the raw text), then normalizes, pre-tokenizes and encodes each stretch between them on its own,
and the ids are the pieces' ids in order. So the ids of a text are the ids of its stretches joined,
each stretch encoded alone (``add_special_tokens=False``), with every added token's own id between
them. Chat datasets repeat those stretches (a system prompt, ``"assistant\\n"``, the same question
in many conversations): :class:`PieceEncoder` encodes each distinct one once per stream and joins:
``ids`` for the trl profile (ids only), ``encodings`` for native mode, whose labels come from
character positions (:class:`JoinedEncoding` answers ``char_to_token`` and ``offsets`` as the
whole text's encoding does).

That equality only holds when nothing in the pipeline looks across a stretch's edges or at where
it sits in the text, which :func:`piece_splitter` checks on the tokenizer before it is used (else
the encoder encodes whole texts, as before):

* no truncation or padding configured, and special tokens are split out (``encode_special_tokens``
  off, transformers' ``split_special_tokens=False``);
* the added tokens matched on the raw text strip no whitespace around them (``lstrip``/``rstrip``)
  and need no word boundary (``single_word``): such a token's match depends on its neighbours;
* the pre-tokenizer is one of those that treat each stretch alike wherever it sits (``ByteLevel``,
  ``Split``, ``Whitespace``, ``Digits``...); ``Metaspace`` with ``prepend_scheme="first"`` adds
  ``▁`` only to the text's first stretch, so it is refused, as is any type not on the list;
* the model has no BPE dropout (whose encodings are random anyway).

The normalizer runs on each stretch on its own in both cases, and added tokens that match on
normalized text are found inside a stretch either way. The cut itself is the tokenizer's:
leftmost-longest over the added tokens' texts. As a last check, the first texts of a stream are
also encoded whole and compared; a difference turns the piece path off for that stream.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["JoinedEncoding", "PieceEncoder", "piece_splitter"]

# pre-tokenizers that split each stretch the same way wherever it sits in the text
_POSITION_FREE = frozenset(
    {
        "ByteLevel",
        "Split",
        "Whitespace",
        "WhitespaceSplit",
        "Punctuation",
        "Digits",
        "BertPreTokenizer",
        "CharDelimiterSplit",
        "UnicodeScripts",
    }
)
# a stream remembers the ids of at most this many stretches, of stretches this short,
_CACHE_MAX = 32768
_PIECE_MAX_CHARS = 2048
# the number of texts at the start of a stream also encoded whole, as a check
_CHECKED = 64
# and at most this many tokens in all (memory stays a few tens of MB whatever the stream)
_CACHE_TOKENS_MAX = 400_000


def _pre_tokenizer_ok(state: Any) -> bool:
    if state is None:
        return True
    kind = state.get("type")
    if kind == "Sequence":
        return all(_pre_tokenizer_ok(p) for p in state.get("pretokenizers") or [])
    if kind == "Metaspace":
        return state.get("prepend_scheme") in ("always", "never")
    return kind in _POSITION_FREE


def _state(component: Any) -> Any:
    return None if component is None else json.loads(component.__getstate__())


def piece_splitter(backend: Any) -> tuple[re.Pattern[str], dict[str, int]] | None:
    """``(pattern, ids)`` for a Rust tokenizer whose encodings are their stretches' encodings
    joined: ``pattern`` (with one group) cuts a text at its added tokens as the tokenizer does,
    ``ids`` maps each added token's text to its id. None when that does not hold (see above)."""
    if backend is None or backend.truncation is not None or backend.padding is not None:
        return None
    if getattr(backend, "encode_special_tokens", False):
        return None
    if getattr(backend.model, "dropout", None):
        return None
    try:
        if not _pre_tokenizer_ok(_state(backend.pre_tokenizer)):
            return None
    except (AttributeError, TypeError, ValueError):
        return None
    raw = [
        tok
        for tok in backend.get_added_tokens_decoder().values()
        if tok.content and not tok.normalized
    ]
    if any(tok.lstrip or tok.rstrip or tok.single_word for tok in raw):
        return None
    texts = sorted({tok.content for tok in raw}, key=len, reverse=True)
    if not texts:
        return None
    # each added token alone must encode to exactly one id (its own)
    encoded = backend.encode_batch(texts, add_special_tokens=False)
    if any(len(e.ids) != 1 for e in encoded):
        return None
    ids = {t: e.ids[0] for t, e in zip(texts, encoded, strict=True)}
    # longest first: at a position, the longest text that matches wins (leftmost-longest)
    return re.compile("(" + "|".join(map(re.escape, texts)) + ")"), ids


class JoinedEncoding:
    """A text's encoding made of its stretches' encodings: what native mode reads from a
    ``tokenizers.Encoding`` (``len``, ``char_to_token``, ``offsets``), with character positions
    in the whole text. An added token's characters are its own token's, as in the whole
    encoding."""

    __slots__ = ("_bases", "_encodings", "_ends", "_n", "_starts")

    def __init__(
        self, starts: list[int], ends: list[int], bases: list[int], encodings: list[Any], n: int
    ) -> None:
        self._starts, self._ends, self._bases = starts, ends, bases
        self._encodings, self._n = encodings, n

    def __len__(self) -> int:
        return self._n

    def char_to_token(self, pos: int, sequence_index: int = 0) -> int | None:
        k = bisect_right(self._starts, pos) - 1
        if k < 0 or pos >= self._ends[k]:
            return None
        enc = self._encodings[k]
        if enc is None:
            return self._bases[k]
        t = enc.char_to_token(pos - self._starts[k])
        return None if t is None else self._bases[k] + t

    @property
    def offsets(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for start, end, enc in zip(self._starts, self._ends, self._encodings, strict=True):
            if enc is None:
                out.append((start, end))
            else:
                out += [(start + a, start + b) for a, b in enc.offsets]
        return out


class PieceEncoder:
    """``ids(texts)``: the token ids of each text, as ``backend.encode_batch(texts,
    add_special_tokens=False)`` gives them, with each distinct stretch between added tokens
    encoded once per encoder (one per stream); ``batch`` is the batched encode call to use."""

    def __init__(self, backend: Any, batch: Callable[..., Any]) -> None:
        self._batch = batch
        split = piece_splitter(backend)
        self.enabled = split is not None
        self._pattern: re.Pattern[str] | None = None
        self._special: dict[str, int] = {}
        if split is not None:
            self._pattern, self._special = split
        self._cache: dict[str, list[int]] = {}
        self._encoded: dict[str, tuple[list[int], Any]] = {}  # for encodings()
        self._cached_tokens = 0
        self._to_check = _CHECKED

    def _whole(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._batch(list(texts), add_special_tokens=False)]

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        if not self.enabled:
            return self._whole(texts)
        out = self._joined(texts)
        if self._to_check > 0:
            head = list(texts[: self._to_check])
            self._to_check -= len(head)
            if self._whole(head) != out[: len(head)]:
                self.enabled = False  # never seen; the whole texts are then the answer
                self._cache.clear()
                return self._whole(texts)
        return out

    def encodings(self, texts: Sequence[str]) -> list[tuple[list[int], Any]]:
        """``(ids, encoding)`` per text, as ``(e.ids, e)`` for ``e`` in ``backend.encode_batch``
        (``batch`` must give offsets): ``encoding`` is a :class:`JoinedEncoding`, or the
        tokenizer's own when the piece path is off."""
        if not texts:
            return []
        if not self.enabled:
            return [(e.ids, e) for e in self._batch(list(texts), add_special_tokens=False)]
        out = self._joined_encodings(texts)
        if self._to_check > 0:
            head = list(texts[: self._to_check])
            self._to_check -= len(head)
            whole = self._batch(head, add_special_tokens=False)
            if any(
                e.ids != ids or e.offsets != joined.offsets
                for e, (ids, joined) in zip(whole, out, strict=False)
            ):
                self.enabled = False  # never seen; the whole texts are then the answer
                self._encoded.clear()
                return [(e.ids, e) for e in self._batch(list(texts), add_special_tokens=False)]
        return out

    def _joined_encodings(self, texts: Sequence[str]) -> list[tuple[list[int], Any]]:
        assert self._pattern is not None
        special, cache = self._special, self._encoded
        split = self._pattern.split
        missing: dict[str, int] = {}
        plans: list[list[str]] = []
        for text in texts:
            parts = split(text)
            plans.append(parts)
            for k in range(0, len(parts), 2):
                piece = parts[k]
                if piece and piece not in cache and piece not in missing:
                    missing[piece] = len(missing)
        fresh = (
            [(e.ids, e) for e in self._batch(list(missing), add_special_tokens=False)]
            if missing
            else []
        )
        for piece, k in missing.items():
            if len(cache) >= _CACHE_MAX or self._cached_tokens >= _CACHE_TOKENS_MAX:
                break
            if len(piece) <= _PIECE_MAX_CHARS:
                cache[piece] = fresh[k]
                self._cached_tokens += len(fresh[k][0])
        out: list[tuple[list[int], Any]] = []
        for parts in plans:
            ids: list[int] = []
            starts: list[int] = []
            ends: list[int] = []
            bases: list[int] = []
            encs: list[Any] = []
            pos = 0
            for k, piece in enumerate(parts):
                if not piece:
                    continue
                starts.append(pos)
                pos += len(piece)
                ends.append(pos)
                bases.append(len(ids))
                if k % 2:
                    ids.append(special[piece])
                    encs.append(None)
                else:
                    got = cache.get(piece)
                    pids, enc = got if got is not None else fresh[missing[piece]]
                    ids += pids
                    encs.append(enc)
            out.append((ids, JoinedEncoding(starts, ends, bases, encs, len(ids))))
        return out

    def _joined(self, texts: Sequence[str]) -> list[list[int]]:
        assert self._pattern is not None
        special, cache = self._special, self._cache
        split = self._pattern.split
        missing: dict[str, int] = {}
        plans: list[list[str]] = []
        for text in texts:
            parts = split(text)  # text, token, text, token, ..., text
            plans.append(parts)
            for k in range(0, len(parts), 2):
                piece = parts[k]
                if piece and piece not in cache and piece not in missing:
                    missing[piece] = len(missing)
        fresh = self._whole(list(missing)) if missing else []
        for piece, k in missing.items():
            if len(cache) >= _CACHE_MAX or self._cached_tokens >= _CACHE_TOKENS_MAX:
                break
            if len(piece) <= _PIECE_MAX_CHARS:
                cache[piece] = fresh[k]
                self._cached_tokens += len(fresh[k])
        out: list[list[int]] = []
        for parts in plans:
            ids: list[int] = []
            for k, piece in enumerate(parts):
                if k % 2:
                    ids.append(special[piece])
                elif piece:
                    got = cache.get(piece)
                    ids += got if got is not None else fresh[missing[piece]]
            out.append(ids)
        return out
