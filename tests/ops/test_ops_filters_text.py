"""Repetition, character-ratio, refusal, flagged-word and language filters."""

from __future__ import annotations

import pytest
from ops_helpers import chat

import sftforge.ops.filters  # noqa: F401  (registers the operators)
from sftforge.errors import RecipeError
from sftforge.ops.base import Filter, build_op
from sftforge.ops.filters import char_ratio, char_rep_ratio, special_ratio, word_rep_ratio
from sftforge.ops.filters import language as language_mod
from sftforge.sample import Sample


def run(op: Filter, sample: Sample) -> tuple[bool, str | None, object]:
    kept, rejects = op.apply([sample])
    if kept:
        return True, None, sample.meta["stats"][op.metric_key()]
    return False, rejects[0].reason, rejects[0].value


CHAR_REP_CASES = [
    ("abcabcabcabcabcabcabcabc", 3, 8 / 22),
    ("the quick brown fox jumps over the lazy dog", 10, 0.0),
    ("short", 10, 0.0),
    ("哈哈哈哈哈哈哈哈哈哈哈哈", 10, 1.0),
    ("", 10, 0.0),
]


@pytest.mark.parametrize(("text", "n", "expected"), CHAR_REP_CASES)
def test_char_rep_ratio(text: str, n: int, expected: float) -> None:
    assert char_rep_ratio(text, n) == pytest.approx(expected)


WORD_REP_CASES = [
    ("a b c a b c a b c", 3, 1.0),
    ("我爱北京天安门我爱北京天安门", 3, 10 / 12),
    ("One two three four", 2, 0.0),
    ("Buy now! buy NOW! Buy now!", 2, 1.0),
    ("too short", 10, 0.0),
]


@pytest.mark.parametrize(("text", "n", "expected"), WORD_REP_CASES)
def test_word_rep_ratio(text: str, n: int, expected: float) -> None:
    assert word_rep_ratio(text, n) == pytest.approx(expected)


def test_repetition_filters_drop_with_reason() -> None:
    spam = "买买买买买买买买买买买买买买买买买买买买"
    assert run(build_op("char_repetition_filter", {"targets": "assistant"}), chat("q", spam)) == (
        False,
        "char 10-gram repetition above max 0.5",
        1.0,
    )
    words = " ".join(["click the link now"] * 10)
    op = build_op("word_repetition_filter", {"n": 4, "max": 0.3, "targets": "assistant"})
    assert run(op, chat("q", words)) == (False, "word 4-gram repetition above max 0.3", 1.0)
    assert run(op, chat("q", "A perfectly normal answer."))[0] is True


RATIO_CASES = [
    ("Hello!!! ###", "special", 0.5),
    ("你好，世界。", "special", 2 / 6),
    ("", "special", 0.0),
    ("你好 ab", "cjk", 0.5),
    ("ab12  !!", "alnum", 0.5),
    ("abc123", "digit", 0.5),
    ("Ünïcode 中", "latin", 5 / 8),
    ("中文", "alpha", 1.0),
]


@pytest.mark.parametrize(("text", "kind", "expected"), RATIO_CASES)
def test_char_ratios(text: str, kind: str, expected: float) -> None:
    got = special_ratio(text) if kind == "special" else char_ratio(text, kind)
    assert got == pytest.approx(expected)


def test_ratio_filters() -> None:
    op = build_op("special_char_filter", {"targets": "assistant"})
    assert run(op, chat("q", "@@@@ ### !!!")) == (
        False,
        "special-character ratio above max 0.25",
        10 / 12,
    )
    zh = build_op("char_ratio_filter", {"kind": "cjk", "min": 0.3, "targets": "assistant"})
    assert run(zh, chat("q", "This is English."))[:2] == (False, "cjk ratio below min 0.3")
    assert run(zh, chat("q", "这是中文 answer"))[0] is True
    with pytest.raises(RecipeError, match="'kind' must be one of"):
        build_op("char_ratio_filter", {"kind": "greek"})


REFUSAL_CASES = [
    ("As an AI language model, I cannot do that.", "as an ai language model"),
    ("I’m sorry, but I can’t help with that.", "i'm sorry, but i can't"),
    ("I'm  sorry,but I cannot share it", "i'm sorry, but i cannot"),
    ("作为一个AI语言模型，我没有个人观点。", "作为一个ai语言模型"),
    ("抱歉，我无法回答这个问题。", "抱歉，我无法"),
    ("抱歉,我不能这样做", "抱歉，我不能"),
    ("The capital of France is Paris.", None),
    ("我很抱歉听到这个消息，希望你早日康复。", None),
]


@pytest.mark.parametrize(("answer", "phrase"), REFUSAL_CASES)
def test_refusal_filter(answer: str, phrase: str | None) -> None:
    got = run(build_op("refusal_filter"), chat("Please help", answer))
    expected = (
        (True, None, None) if phrase is None else (False, f"refusal phrase '{phrase}'", phrase)
    )
    assert got == expected


def test_refusal_filter_window_and_custom_phrases() -> None:
    late = "Here is the recipe. " * 20 + "As an AI language model I enjoyed it."
    assert run(build_op("refusal_filter", {"window": 100}), chat("q", late))[0] is True
    assert run(build_op("refusal_filter"), chat("q", late))[0] is False
    op = build_op("refusal_filter", {"phrases": ["no comment"]})
    assert run(op, chat("q", "No  comment."))[:2] == (False, "refusal phrase 'no comment'")
    assert run(op, chat("q", "As an AI language model"))[0] is True
    assert run(build_op("refusal_filter"), chat("As an AI language model?", "Sure."))[0] is True


FLAG_CASES = [
    ({"words": ["badword"], "max": 0}, "this has a BadWord inside", (False, 0.2)),
    ({"words": ["badword"], "max": 0}, "badwords is another token", (True, 0.0)),
    ({"words": ["赌博"], "max": 0}, "禁止网络赌博行为", (False, 0.125)),
    ({"words": ["buy now"], "max": 0.3}, "buy now buy now please", (False, 0.4)),
    ({}, "A clean helpful answer about cooking rice.", (True, 0.0)),
    ({"max": 0.1}, "what the fuck is this shit", (False, 2 / 6)),
]


@pytest.mark.parametrize(("options", "answer", "expected"), FLAG_CASES)
def test_flagged_words_filter(options: dict, answer: str, expected: tuple) -> None:
    ok, _, value = run(
        build_op("flagged_words_filter", {"targets": "assistant", **options}), chat("q", answer)
    )
    assert (ok, value) == expected


def test_flagged_words_file_and_cache_keys(tmp_path) -> None:
    f = tmp_path / "words.txt"
    f.write_text("# comment\nfoo\n\n中文词 # trailing comment\n", encoding="utf-8")
    op = build_op("flagged_words_filter", {"words_file": str(f), "max": 0})
    s = chat("q", "foo 中文词")
    assert run(op, s)[0] is False
    other = build_op("flagged_words_filter", {"words": ["bar"], "max": 0})
    assert other.metric_key() != op.metric_key()
    with pytest.raises(RecipeError, match="cannot read words_file"):
        build_op("flagged_words_filter", {"words_file": str(tmp_path / "missing.txt")})


LANG_CASES = [
    ("这是一个中文句子，用来测试语言识别。", {"allowed": ["zh"]}, True),
    ("This is an English sentence for testing.", {"allowed": ["zh"]}, False),
    ("Bonjour, je suis une phrase en français.", {"allowed": ["en", "zh"]}, False),
    ("Bonjour, je suis une phrase en français.", {"allowed": ["fr"], "min_score": 0.5}, True),
    ("", {"allowed": ["en"]}, False),
    ("ok", {"min_score": 0.99}, False),
]


@pytest.mark.parametrize(("answer", "options", "kept"), LANG_CASES)
def test_language_filter(answer: str, options: dict, kept: bool) -> None:
    assert (
        run(build_op("language_filter", {"targets": "assistant", **options}), chat("q", answer))[0]
        is kept
    )


def test_language_metric_and_reason() -> None:
    s = chat("q", "Bonjour, je suis une phrase en français.")
    ok, reason, value = run(
        build_op("language_filter", {"targets": "assistant", "allowed": ["en"]}), s
    )
    assert (ok, reason, value["lang"]) == (False, "language 'fr' not in ['en']", "fr")
    assert value["score"] > 0.9


def test_language_filter_caches_detection(monkeypatch) -> None:
    calls = []
    orig = language_mod.detect_language
    monkeypatch.setattr(language_mod, "detect_language", lambda t, n: calls.append(t) or orig(t, n))
    s = chat("q", "This is an English sentence for testing.")
    build_op("language_filter", {"allowed": ["zh"]}).apply([s])
    build_op("language_filter", {"allowed": ["en"], "min_score": 0.2}).apply([s])
    assert len(calls) == 1


def test_language_model_is_the_bundled_lite_one() -> None:
    det = language_mod._detector()
    assert det.config.model == "lite"


def _word_rep_by_count(text: str, n: int) -> float:
    """The definition, without the shortcuts: every n-gram counted."""
    from collections import Counter

    from sftforge.ops.text import words

    toks = words(text.lower())
    if len(toks) < n:
        return 0.0
    grams = Counter(zip(*[toks[i:] for i in range(n)], strict=False))
    return sum(c for c in grams.values() if c > 1) / (len(toks) - n + 1)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 10, 13])
def test_word_rep_shortcuts_give_the_counted_ratio(n: int) -> None:
    """The exact early exits (too few repeated words, then word pairs) never change a ratio:
    random texts over tiny vocabularies repeat at every length, so each exit and the full
    count are all reached."""
    import random

    rnd = random.Random(n)
    vocab = ["a", "b", "c", "d", "e", "f", "g", "h"]
    nonzero = zero_after_count = 0
    for _ in range(600):
        size = rnd.randint(1, len(vocab))
        text = " ".join(rnd.choice(vocab[:size]) for _ in range(rnd.randint(0, 60)))
        got, want = word_rep_ratio(text, n), _word_rep_by_count(text, n)
        assert got == want, (text, n)
        nonzero += got > 0
        zero_after_count += got == 0 and len(text.split()) >= n
    assert nonzero > 50 and zero_after_count > 10


def test_words_lower_is_the_words_of_the_lowered_text() -> None:
    """``words(text, lower=True)`` lower-cases ASCII in the translate pass; it must equal
    ``words(text.lower())`` everywhere, also where ``lower()`` turns non-ASCII text into ASCII
    (the Kelvin sign) or changes its length (dotted capital I), with joiners and CJK."""
    import random

    from sftforge.ops.text import words

    fixed = [
        "Kelvin \u212a is K",
        "İstanbul and ISTANBUL",
        "DON'T a--b -x- 'Q' GPT-4 don''t A-'B it's-a",
        "中文 English MIXED 한국어 Straße",
        "",
        "---",
    ]
    rnd = random.Random(0)
    alphabet = "Aa Zz9'-\u212a中é İ\n"
    texts = fixed + [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(3000)
    ]
    for text in texts:
        assert words(text, lower=True) == words(text.lower()), text
    assert words("Don't SHOUT", lower=True) == ["don't", "shout"]


def test_word_rep_four_gram_exit_gives_the_counted_ratio() -> None:
    """Texts whose repeated word pairs pass the pairs exit but whose repeated 4-grams are too
    few for a repeated 10-gram: the 4-gram exit returns 0, which the full count confirms; texts
    past it still get the counted ratio."""
    import random
    from itertools import pairwise

    from sftforge.ops.text import words

    rnd = random.Random(7)
    at_four = past_four = 0
    for _ in range(1500):
        vocab = [f"w{i}" for i in range(rnd.randint(3, 12))]
        text = " ".join(rnd.choice(vocab) for _ in range(rnd.randint(20, 80)))
        toks = words(text, lower=True)
        m = len(toks)
        pairs_pass = m - len(set(toks)) >= 10 and m - 1 - len(set(pairwise(toks))) >= 9
        fours = m - 3 - len(set(zip(toks, toks[1:], toks[2:], toks[3:], strict=False)))
        assert word_rep_ratio(text, 10) == _word_rep_by_count(text, 10), text
        at_four += pairs_pass and fours < 7
        past_four += pairs_pass and fours >= 7
    assert at_four > 20 and past_four > 20
