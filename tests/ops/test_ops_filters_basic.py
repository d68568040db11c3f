"""Length, turns, empty-answer filters; metric caching across thresholds."""

from __future__ import annotations

import pytest
from ops_helpers import chat

import sftforge.ops.filters  # noqa: F401  (registers the operators)
from sftforge.errors import RecipeError
from sftforge.ops.base import Filter, build_op
from sftforge.ops.filters.length import LengthFilter
from sftforge.ops.text import count_words
from sftforge.sample import Message, Sample, ToolCall

WORD_CASES = [
    ("Hello, world!", 2),
    ("你好world", 3),
    ("don't stop-motion", 2),
    ("中文，标点。", 4),
    ("GPT-4 costs $20/month", 4),
    ("", 0),
    ("こんにちは 世界", 7),
]


@pytest.mark.parametrize(("text", "expected"), WORD_CASES)
def test_count_words(text: str, expected: int) -> None:
    assert count_words(text) == expected


def run(op: Filter, sample: Sample) -> tuple[bool, str | None, object]:
    kept, rejects = op.apply([sample])
    if kept:
        return True, None, sample.meta["stats"][op.metric_key()]
    return False, rejects[0].reason, rejects[0].value


LENGTH_CASES = [
    ({"unit": "chars", "min": 3, "targets": "assistant"}, "ab", (False, "chars below min 3", 2)),
    ({"unit": "chars", "max": 3, "targets": "assistant"}, "abc", (True, None, 3)),
    (
        {"unit": "words", "max": 2, "targets": "assistant"},
        "你好啊",
        (False, "words above max 2", 3),
    ),
    ({"unit": "chars", "targets": "all"}, "answer", (True, None, len("question") + 6)),
    (
        {"unit": "chars", "aggregate": "max", "targets": "all", "max": 7},
        "abc",
        (False, "chars above max 7", 8),
    ),
]


@pytest.mark.parametrize(("options", "answer", "expected"), LENGTH_CASES)
def test_length_filter(options: dict, answer: str, expected: tuple) -> None:
    assert run(build_op("length_filter", options), chat("question", answer)) == expected


def test_length_filter_min_aggregate_catches_one_short_answer() -> None:
    s = Sample([Message("user", "q1"), Message("assistant", "long answer here"),
                Message("user", "q2"), Message("assistant", "ok")])  # fmt: skip
    op = build_op("length_filter", {"targets": "assistant", "aggregate": "min", "min": 3})
    assert run(op, s) == (False, "chars below min 3", 2)


def test_length_filter_tokens(tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    op = build_op("length_filter", {"unit": "tokens", "tokenizer": str(tmp_path), "max": 2,
                                    "targets": "assistant"})  # fmt: skip
    assert run(op, chat("q", "hello world again")) == (False, "tokens above max 2", 3)


def test_length_filter_bad_options() -> None:
    with pytest.raises(RecipeError, match="needs 'tokenizer'"):
        build_op("length_filter", {"unit": "tokens"})
    with pytest.raises(RecipeError, match="greater than max"):
        build_op("length_filter", {"min": 5, "max": 1})
    with pytest.raises(RecipeError, match=r"no tokenizer\.json"):
        op = build_op("length_filter", {"unit": "tokens", "tokenizer": "/nonexistent/tok"})
        op.apply([chat("q", "a")])


def test_filter_reuses_cached_metric_on_threshold_change(monkeypatch) -> None:
    calls = []
    orig = LengthFilter._measure
    monkeypatch.setattr(LengthFilter, "_measure", lambda self, t: calls.append(t) or orig(self, t))
    s = chat("q", "one two three four")
    words = {"targets": "assistant", "unit": "words"}
    assert run(build_op("length_filter", {**words, "max": 3}), s)[0] is False
    assert len(calls) == 1
    assert run(build_op("length_filter", {**words, "max": 10}), s)[0] is True
    assert len(calls) == 1  # decided from meta["stats"], not recomputed
    build_op("length_filter", {**words, "aggregate": "max"}).apply([s])
    assert len(calls) == 2  # another metric: another cache slot
    assert sorted(s.meta["stats"]) == [
        "length_filter:words.max@assistant",
        "length_filter:words@assistant",
    ]


TURN_CASES = [
    ({"min": 2}, (False, "user turns below min 2", 1)),
    ({"max": 1}, (True, None, 1)),
    ({"count": "messages", "max": 2}, (False, "messages turns above max 2", 3)),
]


@pytest.mark.parametrize(("options", "expected"), TURN_CASES)
def test_turns_filter(options: dict, expected: tuple) -> None:
    assert run(build_op("turns_filter", options), chat("q", "a", system="s")) == expected


EMPTY_CASES = [
    ("<noinput>", (False, "placeholder assistant '<noinput>'", 1)),
    ("N/A", (False, "placeholder assistant 'N/A'", 1)),
    ("  无。 ", (False, "placeholder assistant '无。'", 1)),
    ("暂无", (False, "placeholder assistant '暂无'", 1)),
    ("None.", (False, "placeholder assistant 'None.'", 1)),
    ("", (False, "empty assistant", 1)),
    ("   \n", (False, "empty assistant", 1)),
    ("No.", (True, None, 0)),
    ("无法确定，需要更多信息。", (True, None, 0)),
    ("None of the above options is correct.", (True, None, 0)),
]


@pytest.mark.parametrize(("answer", "expected"), EMPTY_CASES)
def test_empty_answer_filter(answer: str, expected: tuple) -> None:
    assert run(build_op("empty_answer_filter"), chat("q", answer)) == expected


def test_empty_answer_tool_call_is_not_empty_and_modes() -> None:
    s = chat("q", "")
    s.messages[-1].tool_calls = [ToolCall("search", {"q": "x"})]
    assert run(build_op("empty_answer_filter"), s)[0] is True
    two = Sample([Message("user", "q1"), Message("assistant", "fine"),
                  Message("user", "q2"), Message("assistant", "N/A")])  # fmt: skip
    assert run(build_op("empty_answer_filter"), two)[0] is False
    assert run(build_op("empty_answer_filter", {"mode": "all"}), two)[0] is True
    custom = build_op("empty_answer_filter", {"extra_placeholders": ["见上文"]})
    assert run(custom, chat("q", "见上文"))[0] is False
