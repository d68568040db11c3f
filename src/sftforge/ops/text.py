"""Shared pieces of the text operators: target selection, code-span protection, CJK helpers.

``TextMapper`` is the base of every operator that rewrites message text: it picks the targeted
messages (plus the preference ``rejected`` answer when assistant turns are targeted), calls one
``transform(text) -> str`` per message and counts how many messages it changed. ``split_code``
cuts a text into prose and code spans (fenced blocks, ``<pre>``/``<code>`` elements and inline
backtick spans) so operators that must not touch code only rewrite the prose parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import xxhash

from ..sample import Message, Sample
from .base import Mapper, Targets, select_messages

__all__ = [
    "CJK_CHAR",
    "TextMapper",
    "count_words",
    "has_cjk",
    "list_digest",
    "map_prose",
    "split_code",
    "sub_many",
    "target_messages",
    "target_text",
    "words",
]

# CJK ideographs (BMP + extension A + compatibility), kana and hangul: scripts written without
# spaces, where one character is counted as one word.
CJK_CHAR = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RE = re.compile(f"[{CJK_CHAR}]")
# a word is a CJK character, or a run of letters/digits (with inner ' or -) of other scripts
_WORD_RE = re.compile(f"[{CJK_CHAR}]|[^\\W_{CJK_CHAR}]+(?:['’-][^\\W_{CJK_CHAR}]+)*")

# fenced blocks (``` or ~~~, to the closing fence or the end), <pre>/<code> elements, inline `code`
_CODE_RE = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*(?P=mark)[ \t]*$|\Z))"
    r"|(?P<pre><(?P<tag>pre|code)\b[^>]*>.*?</(?P=tag)\s*>)"
    r"|(?P<inline>(?<!`)`[^`\n]+`(?!`))",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)


def split_code(text: str) -> list[tuple[bool, str]]:
    """``[(is_code, part), ...]`` covering ``text`` exactly, in order."""
    if "`" not in text and "~~~" not in text and "<" not in text:
        return [(False, text)]
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _CODE_RE.finditer(text):
        if m.start() > pos:
            parts.append((False, text[pos : m.start()]))
        parts.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return parts or [(False, text)]


def map_prose(text: str, fn: Callable[[str], str], *, skip_code: bool = True) -> str:
    """Apply ``fn`` to the prose parts of ``text``, leaving code spans byte-identical."""
    if not skip_code:
        return fn(text)
    parts = split_code(text)
    if len(parts) == 1 and not parts[0][0]:
        return fn(text)
    return "".join(part if is_code else fn(part) for is_code, part in parts)


def sub_many(
    text: str, rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]]
) -> str:
    """Apply several substitutions in one pass over the original text: every rule sees the
    input, never another rule's output, and an earlier rule wins where matches overlap. A
    rule returning ``None`` leaves its match alone (and does not claim the span)."""
    edits: list[tuple[int, int, str]] = []
    for pattern, fn in rules:
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(s < end and start < e for s, e, _ in edits):
                continue
            new = fn(m)
            if new is not None:
                edits.append((start, end, new))
    if not edits:
        return text
    edits.sort()
    out, pos = [], 0
    for start, end, new in edits:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def words(text: str) -> list[str]:
    """Words for counting and n-grams: each CJK character is a word, other scripts split on
    anything that is not a letter or digit (so punctuation never sticks to a word)."""
    return _WORD_RE.findall(text)


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def list_digest(items: list[str]) -> str:
    """A short stable digest of a word/phrase list, for cache keys of list-driven metrics."""
    return xxhash.xxh3_64_hexdigest("\n".join(sorted(items)).encode("utf-8"))[:8]


def _wants_rejected(targets: Targets) -> bool:
    names = [targets] if isinstance(targets, str) else list(targets)
    return any(n in ("all", "assistant", "last_turn") for n in names)


def target_messages(sample: Sample, targets: Targets) -> Iterator[Message]:
    """The targeted messages, plus ``sample.rejected`` when assistant answers are targeted."""
    yield from select_messages(sample, targets)
    if sample.rejected is not None and _wants_rejected(targets):
        yield sample.rejected


def target_text(sample: Sample, targets: Targets) -> str:
    """The targeted message contents joined by newlines (the view filters measure)."""
    return "\n".join(m.content for m in select_messages(sample, targets) if m.content)


@dataclass(kw_only=True)
class TextMapper(Mapper):
    """A mapper that rewrites message ``content`` with ``transform``; counts changed messages."""

    def transform(self, text: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def map(self, sample: Sample) -> Sample:
        for msg in target_messages(sample, self.targets):
            if not msg.content:
                continue
            new = self.transform(msg.content)
            if new != msg.content:
                msg.content = new
                self.counters.extra[f"{self.name}.changed"] += 1
        return sample
