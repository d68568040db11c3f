"""Property tests: the fast paths agree with the plain definitions, and cleaners are idempotent
and leave code alone."""

from __future__ import annotations

import math
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import map_text

import sftforge.ops.clean  # noqa: F401  (registers the operators)
from sftforge.ops.filters.ratios import _KIND_RE, char_ratio, special_ratio
from sftforge.ops.filters.repetition import char_rep_ratio
from sftforge.ops.text import _WORD_RE, words

ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=200)
MIXED = st.text(
    alphabet=st.sampled_from(list("ab c-'’\n\t_.,!x9中文。，😀é\u3000\u00a0")), max_size=120
)


@settings(max_examples=300)
@given(ASCII)
def test_ascii_word_split_matches_regex(text: str) -> None:
    assert words(text) == _WORD_RE.findall(text)


@settings(max_examples=200)
@given(st.one_of(ASCII, MIXED))
def test_ratio_fast_paths_match_regex(text: str) -> None:
    if not text:
        return
    special = (len(re.findall(r"[^\w\s]", text)) + text.count("_")) / len(text)
    assert special_ratio(text) == special
    blanks = len(re.findall(r"\s", text))
    for kind in ("alnum", "alpha", "digit", "latin", "cjk"):
        hits = len(_KIND_RE[kind].findall(text))
        total = len(text) if kind in ("alnum", "alpha", "digit") else len(text) - blanks
        assert char_ratio(text, kind) == (hits / total if total else 0.0)


def _dj_char_rep(text: str, n: int) -> float:
    """Data-Juicer's definition, written out plainly."""
    grams = [text[i : i + n] for i in range(len(text) - n + 1)]
    if not grams:
        return 0.0
    freq = sorted(Counter(grams).values(), reverse=True)
    rep = min(int(math.sqrt(len(freq))), len(freq) - sum(1 for f in freq if f == 1))
    return sum(freq[:rep]) / sum(freq)


@settings(max_examples=200)
@given(st.text(alphabet="abc \n中", max_size=80), st.integers(min_value=1, max_value=6))
def test_char_rep_ratio_matches_definition(text: str, n: int) -> None:
    assert char_rep_ratio(text, n) == _dj_char_rep(text, n)


@settings(max_examples=100, deadline=None)
@given(MIXED)
def test_clean_is_idempotent(text: str) -> None:
    once = map_text("clean", text)
    assert map_text("clean", once) == once


@settings(max_examples=100, deadline=None)
@given(MIXED)
def test_code_block_survives_cleaning(body: str) -> None:
    block = "```\n" + body.replace("`", "") + "\n```"
    out = map_text("clean", "<b>intro</b>\n\n" + block + "\n\nend  ")
    # code keeps every character except trailing blanks on its lines (strip_code_trailing)
    assert re.sub(r"[ \t]+(?=\n)", "", block) in out
