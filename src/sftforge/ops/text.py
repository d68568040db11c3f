"""Shared pieces of the text operators: target selection, code-span protection, CJK helpers.

``TextMapper`` is the base of every operator that rewrites message text: it picks the targeted
messages (plus the preference ``rejected`` answer when assistant turns are targeted), calls one
``transform(text) -> str`` per message and counts how many messages it changed. ``split_code``
cuts a text into prose and code spans (fenced blocks, ``<pre>``/``<code>`` elements and inline
backtick spans) so operators that must not touch code only rewrite the prose parts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import xxhash

from ..sample import Message, Sample
from .base import Filter, Mapper, Targets, select_messages

__all__ = [
    "CJK_CHAR",
    "TextFilter",
    "TextMapper",
    "count_words",
    "has_cjk",
    "list_digest",
    "map_prose",
    "selector",
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


# ASCII fast path of the word split: bytes.translate blanks every character that is not a
# letter, digit, ' or -, a ' or - at a word's edge is blanked too (four bytes.replace, C speed)
# and split() cuts the rest. That is the regex's result exactly, except for doubled joiners
# ("a--b"), which take the regex path.
_ASCII_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'-")
_ASCII_TABLE = bytes(b if b in _ASCII_KEEP else 32 for b in range(256))
# the same, lower-casing A-Z as it goes (what str.lower does to ASCII text)
_ASCII_LOWER_TABLE = _ASCII_TABLE.translate(
    bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
)


def words(text: str, *, lower: bool = False) -> list[str]:
    """Words for counting and n-grams: each CJK character is a word; other scripts are runs of
    letters and digits joined by single inner ``'`` or ``-`` (``don't``, ``GPT-4``), so
    punctuation never sticks to a word. ``lower``: the words of ``text.lower()`` (lower-cased
    in the same pass on ASCII text)."""
    if not text.isascii():
        return _WORD_RE.findall(text.lower() if lower else text)
    data = text.encode("ascii").translate(_ASCII_LOWER_TABLE if lower else _ASCII_TABLE)
    if b"'" not in data and b"-" not in data:
        return data.decode("ascii").split()
    # doubled joiners ("a--b") take the regex path (the four tests inline: no generator)
    if b"--" in data or b"''" in data or b"'-" in data or b"-'" in data:
        return _WORD_RE.findall(text.lower() if lower else text)
    # joiners are single here, so a word has at most one at each edge
    data = b" %b " % data
    data = data.replace(b" '", b"  ").replace(b" -", b"  ")
    data = data.replace(b"' ", b"  ").replace(b"- ", b"  ")
    return data.decode("ascii").split()


def count_words(text: str) -> int:
    return len(words(text))


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def list_digest(items: list[str]) -> str:
    """A short stable digest of a word/phrase list, for cache keys of list-driven metrics."""
    return xxhash.xxh3_64_hexdigest("\n".join(sorted(items)).encode("utf-8"))[:8]


@dataclass(frozen=True, slots=True)
class _Selector:
    """``targets`` parsed once: which messages, and whether ``rejected`` comes along."""

    targets: tuple[str, ...]
    roles: frozenset[str] | None  # None: every message
    last_turn: bool
    rejected: bool

    def messages(self, sample: Sample) -> list[Message]:
        if self.roles is None:
            return sample.messages
        if self.last_turn:
            return select_messages(sample, list(self.targets))
        return [m for m in sample.messages if m.role in self.roles]


@functools.lru_cache(maxsize=256)
def _selector(targets: tuple[str, ...]) -> _Selector:
    every = "all" in targets
    return _Selector(
        targets=targets,
        roles=None if every else frozenset(targets) - {"last_turn"},
        last_turn="last_turn" in targets,
        rejected=any(n in ("all", "assistant", "last_turn") for n in targets),
    )


_BY_NAME: dict[str, _Selector] = {}  # one role name or "all": no tuple, no lru_cache call


def selector(targets: Targets) -> _Selector:
    if isinstance(targets, str):
        sel = _BY_NAME.get(targets)
        if sel is None:
            sel = _selector((targets,))
            if len(_BY_NAME) < 256:  # recipes name a handful; never grows without bound
                _BY_NAME[targets] = sel
        return sel
    return _selector(tuple(targets))


def target_messages(sample: Sample, targets: Targets) -> list[Message]:
    """The targeted messages, plus ``sample.rejected`` when assistant answers are targeted."""
    sel = selector(targets)
    msgs = sel.messages(sample)
    if sample.rejected is not None and sel.rejected:
        return [*msgs, sample.rejected]
    return msgs


def target_text(sample: Sample, targets: Targets) -> str:
    """The targeted message contents joined by newlines (the view filters measure)."""
    msgs = selector(targets).messages(sample)
    if len(msgs) == 2:  # the common single-turn case, without a generator
        a, b = msgs[0].content, msgs[1].content
        return f"{a}\n{b}" if a and b else a or b
    return "\n".join(m.content for m in msgs if m.content)


@dataclass(kw_only=True)
class TextMapper(Mapper):
    """A mapper that rewrites message ``content`` with ``transform``; counts changed messages."""

    def transform(self, text: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def map(self, sample: Sample) -> Sample:
        changed = 0
        for msg in target_messages(sample, self.targets):
            if msg.content:
                new = self.transform(msg.content)
                if new != msg.content:
                    msg.content = new
                    changed += 1
        if changed:
            self.counters.extra[self.name + ".changed"] += changed
        return sample


@dataclass(kw_only=True)
class TextFilter(Filter):
    """A filter whose cache key is computed once (it is read twice per sample)."""

    def metric_params(self) -> str:
        """What (besides targets) changes the metric; part of the cache key."""
        return ""

    def metric_key(self) -> str:
        key: str | None = getattr(self, "_metric_key", None)
        if key is None:
            key = self.stats_key or self.name
            params = self.metric_params()
            if params:
                key = f"{key}:{params}"
            tg = self.targets if isinstance(self.targets, str) else "+".join(self.targets)
            key = key if tg == "all" else f"{key}@{tg}"
            self._metric_key = key
        return key
