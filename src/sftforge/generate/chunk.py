"""Chunk documents by headings and length, with overlap, for Q&A generation.

A document is cut into sections at Markdown headings (``#`` lines outside code fences); each
chunk remembers its heading path (``Guide > Install > Linux``) and starts with its heading line.
A section longer than ``max_tokens`` is split at paragraphs, then sentences (Chinese and Latin
punctuation), then characters, and packed into windows that repeat up to ``overlap`` tokens of
the previous window. A section shorter than ``min_tokens`` is merged into the previous chunk when
it fits. Token counts are CJK-aware estimates (``estimate_tokens``), no tokenizer needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..llm.budget import estimate_tokens
from ..sample import Document

__all__ = ["Chunk", "chunk_document", "questions_for", "split_sections"]

_HEAD = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
SEP = "\n\n"
_SENT = re.compile(r"(?<=[。！？；!?;])|(?<=[.!?])\s+")


@dataclass(slots=True)
class Chunk:
    doc_id: str
    chunk_id: str
    index: int
    text: str
    heading: str
    tokens: int
    title: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "index": self.index,
            "text": self.text,
            "heading": self.heading,
            "tokens": self.tokens,
            "title": self.title,
            "source": self.source,
        }


def split_sections(text: str) -> list[tuple[str, str]]:
    """``(heading path, section text)`` pairs; text before any heading has an empty path."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    stack: list[tuple[int, str]] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEAD.match(line)
        if m:
            level = len(m.group(1))
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, m.group(2))]
            sections.append((" > ".join(t for _, t in stack), [line]))
        else:
            sections[-1][1].append(line)
    out = [(h, "\n".join(lines).strip()) for h, lines in sections]
    return [(h, t) for h, t in out if t and not _HEAD.fullmatch(t)]


def _units(text: str, max_tokens: int) -> list[str]:
    """Pieces no longer than ``max_tokens``: paragraphs, else sentences, else character runs."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        if estimate_tokens(para) <= max_tokens:
            out.append(para)
            continue
        for sent in (s.strip() for s in _SENT.split(para)):
            if not sent:
                continue
            while estimate_tokens(sent) > max_tokens:
                cut = max(1, len(sent) * max_tokens // estimate_tokens(sent))
                while cut > 1 and estimate_tokens(sent[:cut]) > max_tokens:
                    cut -= max(1, cut // 20)  # the estimate is not linear in mixed scripts
                out.append(sent[:cut])
                sent = sent[cut:]
            if sent:
                out.append(sent)
    return out


def _size(units: list[str]) -> int:
    """Tokens of the units as they will be joined (rounding makes sums differ from this)."""
    return estimate_tokens(SEP.join(units))


def _windows(units: list[str], max_tokens: int, overlap: int) -> list[list[str]]:
    wins: list[list[str]] = []
    cur: list[str] = []
    for u in units:
        if cur and _size([*cur, u]) > max_tokens:
            wins.append(cur)
            carry: list[str] = []
            for prev in reversed(cur):  # repeat the tail of the last window
                if _size([prev, *carry]) > overlap or _size([prev, *carry, u]) > max_tokens:
                    break
                carry.insert(0, prev)
            cur = carry
        cur.append(u)
    if cur:
        wins.append(cur)
    return wins


def chunk_document(
    doc: Document, *, max_tokens: int = 800, min_tokens: int = 50, overlap: int = 100
) -> list[Chunk]:
    """The chunks of ``doc`` in reading order (see the module docstring)."""
    pieces: list[tuple[str, str]] = []
    for heading, body in split_sections(doc.text):
        for win in _windows(_units(body, max_tokens), max_tokens, overlap):
            text = SEP.join(win)
            if pieces and estimate_tokens(text) < min_tokens:
                prev_h, prev_t = pieces[-1]
                if _size([prev_t, text]) <= max_tokens:
                    pieces[-1] = (prev_h, prev_t + SEP + text)
                    continue
            pieces.append((heading, text))
    title = str(doc.meta.get("title") or "")
    source = str(doc.meta.get("source") or "")
    return [
        Chunk(doc.id, f"{doc.id}#{i}", i, t, h, estimate_tokens(t), title, source)
        for i, (h, t) in enumerate(pieces)
    ]


def questions_for(tokens: int, *, per_tokens: int = 150, minimum: int = 1, maximum: int = 8) -> int:
    """How many questions a chunk gets: one per ``per_tokens`` tokens, within the bounds."""
    return max(minimum, min(maximum, round(tokens / per_tokens)))
