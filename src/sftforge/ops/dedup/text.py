"""What dedup compares: the text of a chosen view, normalised, and its CJK-aware shingles.

Views: ``prompt`` (all user turns), ``answer`` (all assistant turns, their tool calls included so
two tool-call-only answers are not both "empty"), ``whole`` (every turn with its reasoning and tool
calls, the system prompt included, each prefixed by its role so a question asked as a system
prompt is not the same conversation as the question asked by the user; then the preference
``rejected`` answer and media paths, so the same text about two different images is not a
duplicate), ``first_user`` (the first user turn).

Normalisation for both exact and near dedup: NFKC (full-width letters and digits become ASCII,
compatibility forms fold), casefold, punctuation and symbols dropped, whitespace collapsed.

Tokens: every Han / Hiragana / Katakana character is one token (those scripts do not separate words
by spaces); any other run of letters, digits and marks (English, Korean, Cyrillic...) is one word
token. Shingles are n-grams over that single token stream, so a Chinese run yields character
n-grams, an English run word n-grams, and mixed text both, with n-grams spanning the switch.

Short texts (fewer tokens than ``n``) would give no n-gram at all; they get one shingle made of
the whole normalised token sequence instead, so two short texts only match when they are equal
after normalisation: short texts are deduplicated exactly, never dropped on a partial match.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any, Literal

import numpy as np
import orjson
import xxhash

from ...sample import Message, Sample

__all__ = [
    "VIEWS",
    "View",
    "hash_shingles",
    "mix64",
    "normalize",
    "shingle_hashes",
    "shingles",
    "tokens",
    "unique_rows",
    "view_text",
    "view_tokens",
]

View = Literal["prompt", "answer", "whole", "first_user"]
VIEWS: tuple[str, ...] = ("prompt", "answer", "whole", "first_user")

# Han (with extensions, compatibility and radicals), kana, and the ideographic marks 々〆〇
_CJK_RANGES = (
    (0x2E80, 0x2FDF),
    (0x3005, 0x3007),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
# ASCII fast path: punctuation, symbols and controls become spaces in one bytes.translate
_ASCII = bytes(
    32 if chr(i) in string.punctuation or i < 32 or i == 127 else i for i in range(128)
) + bytes(range(128, 256))
# the same, lower-casing too (NFKC leaves ASCII alone and casefold is lower there)
_ASCII_LOWER = _ASCII.translate(
    bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
)
_SEP = "\x1f"  # joins tokens inside one shingle; cannot survive normalisation, so no collisions


def _calls(m: Message) -> str:
    if not m.tool_calls:  # most turns: no generator to build and join
        return ""
    return "".join(
        f"\ncall {c.name} " + orjson.dumps(c.arguments, option=orjson.OPT_SORT_KEYS).decode()
        for c in m.tool_calls
    )


def _turn(m: Message) -> str:
    reasoning = f"\n{m.reasoning}" if m.reasoning else ""
    return f"{m.role}{reasoning}\n{m.content}{_calls(m)}"


def view_text(sample: Sample, view: str) -> str:
    """The raw text of one view of a sample (before normalisation)."""
    if view == "prompt":
        return sample.prompt_text
    if view == "answer":
        return "\n".join(m.content + _calls(m) for m in sample.messages if m.role == "assistant")
    if view == "first_user":
        return next((m.content for m in sample.messages if m.role == "user"), "")
    if view == "whole":
        parts = [_turn(m) for m in sample.messages]
        if sample.rejected is not None:
            parts.append("rejected\n" + sample.rejected.content + _calls(sample.rejected))
        parts.extend(f"{m.type} {m.path}" for m in sample.media or ())
        return "\n".join(parts)
    raise ValueError(f"unknown view '{view}' (valid: {', '.join(VIEWS)})")


@lru_cache(maxsize=2)
def _table(astral: bool = False) -> dict[int, str]:
    """str.translate table: separators/punctuation/symbols -> space, format chars (zero-width)
    removed, each CJK character padded with spaces so that ``split`` makes it its own token.

    Covers the BMP and the supplementary multilingual plane (emoji); the rare CJK extension
    ideographs beyond U+20000 (~77k code points) are added only in the ``astral`` variant, built
    the first time a text contains one, which keeps the usual table at ~40k entries. Per-char
    dict lookups in C beat a Unicode-class regex here."""
    if astral:
        table = dict(_table(False))
        for lo, hi in _CJK_RANGES:
            table.update({cp: f" {chr(cp)} " for cp in range(max(lo, 0x20000), hi + 1)})
        return table
    table = {}
    for cp in range(0x20000):
        cat = unicodedata.category(chr(cp))
        if cat == "Cf":
            table[cp] = ""
        elif cat[0] in "PSZ" or cat in ("Cc", "Cs", "Co"):
            table[cp] = " "
    for lo, hi in _CJK_RANGES:
        for cp in range(lo, min(hi, 0x1FFFF) + 1):
            if unicodedata.category(chr(cp))[0] in "LN":
                table[cp] = f" {chr(cp)} "
    return table


def tokens(text: str) -> list[str]:
    """NFKC + casefold, then CJK characters and other words as tokens; punctuation dropped."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_LOWER).decode("ascii").split()
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text.encode("ascii").translate(_ASCII).decode("ascii").split()
    return text.translate(_table(max(text) > "\U0001ffff")).split()


def view_tokens(samples: Sequence[Sample], view: str, memo: dict[Any, Any]) -> list[list[str]]:
    """``tokens(view_text(s, view))`` per sample, computed once per ``memo`` (one ``keys``
    round over ``samples``: exact and near dedup share it)."""
    key = ("dedup.tokens", view)
    toks: list[list[str]] | None = memo.get(key)
    if toks is None:
        toks = memo[key] = [tokens(view_text(s, view)) for s in samples]
    return toks


def normalize(text: str) -> str:
    """The normalised form used by exact dedup: tokens joined by single spaces."""
    return " ".join(tokens(text))


def shingles(toks: Sequence[str], n: int) -> set[str]:
    """Token n-grams; a text shorter than ``n`` tokens is one shingle (exact match only)."""
    if len(toks) < n:
        return {_SEP.join(toks)} if toks else set()
    return {_SEP.join(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def hash_shingles(sh: set[str]) -> list[int]:
    """64-bit hashes of shingle strings, sorted (a readable reference for ``shingle_hashes``)."""
    return sorted(xxhash.xxh3_64_intdigest(s.encode("utf-8")) for s in sh)


# odd 64-bit multipliers, one per position in the n-gram (positions must not commute)
_MULT = np.random.default_rng(20240601).integers(1, 2**63, size=64, dtype=np.uint64) * 2 + 1


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the linear n-gram combination over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _token_hashes(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    import rensa

    total = sum(len(t) for t in token_lists)
    hashed = rensa.RMinHash.hash_token_sets(token_lists)
    return np.fromiter(chain.from_iterable(hashed), dtype=np.uint64, count=total)


def shingle_hashes(token_lists: Sequence[Sequence[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashed n-gram shingles of many token lists at once: (flat uint64 array, row offsets).

    Row ``i`` is ``flat[offsets[i]:offsets[i + 1]]`` (may repeat a shingle; MinHash and
    ``np.unique`` treat it as a set). Texts shorter than ``n`` tokens get one shingle made of all
    their tokens; empty texts get none. Vectorised: tokens are hashed once in Rust (``rensa``),
    n-grams are position-weighted sums of token hashes, mixed.
    """
    if n > len(_MULT):
        raise ValueError(f"ngram must be at most {len(_MULT)}")
    toks = _token_hashes(token_lists)
    lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    starts = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    size = len(toks)
    acc = np.zeros(size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(min(n, size)):
            acc[: size - k] += toks[k:] * _MULT[k]
        doc_end = np.repeat(starts[1:], lens)
        valid = np.arange(size, dtype=np.int64) + n <= doc_end
        counts = np.maximum(lens - n + 1, 0)
        short = np.flatnonzero((lens > 0) & (lens < n))
        if len(short):
            # one whole-text shingle; the length term keeps it apart from any full n-gram
            for i in short:
                body = toks[starts[i] : starts[i + 1]] * _MULT[: lens[i]]
                acc[starts[i]] = body.sum(dtype=np.uint64) + _MULT[-1] * np.uint64(lens[i])
            valid[starts[short]] = True
            counts[short] = 1
        flat = mix64(acc[valid])
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return flat, offsets


def unique_rows(flat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``flat`` (cut by ``offsets``) as a sorted set: (values, row sizes), equal to
    ``np.unique`` of every row. Each row is sorted in place in a copy (a few hundred short sorts
    cost a seventh of one ``lexsort`` over (value, row) pairs), then repeats are dropped in one
    pass."""
    v = flat.copy()
    bounds = offsets.tolist()
    for a, b in pairwise(bounds):
        if b - a > 1:
            v[a:b].sort()
    keep = np.ones(len(v), dtype=bool)
    if len(v) > 1:
        np.not_equal(v[1:], v[:-1], out=keep[1:])
        # a row's first value is kept even when it equals the previous row's last
        starts = np.asarray(bounds[1:-1], dtype=np.int64)
        keep[starts[(starts > 0) & (starts < len(v))]] = True
    kept_before = np.zeros(len(v) + 1, dtype=np.int64)  # kept values before each position
    np.cumsum(keep, out=kept_before[1:])
    return v[keep], kept_before[offsets[1:]] - kept_before[offsets[:-1]]
