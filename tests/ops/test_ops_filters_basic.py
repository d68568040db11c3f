"""Length, turns, empty-answer filters; metric caching across thresholds."""

from __future__ import annotations

import pytest
from ops_helpers import chat

import sftforge.ops.clean  # (registers the operators)
import sftforge.ops.filters  # noqa: F401
from sftforge.errors import RecipeError
from sftforge.ops.base import Filter, MetricMemo, build_op, content_fingerprint
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


def test_a_metric_is_recomputed_when_the_text_changed(monkeypatch) -> None:
    calls = []
    stats = LengthFilter.stats
    monkeypatch.setattr(LengthFilter, "stats", lambda self, s: calls.append(1) or stats(self, s))
    s = chat("q", "<b>hi</b> there")
    measure = build_op("length_filter", {"targets": "assistant", "max": 10})
    assert run(measure, s) == (False, "chars above max 10", 15)
    build_op("clean_html", {}).apply([s])
    assert run(measure, s) == (True, None, 8)
    assert len(calls) == 2
    assert run(measure, s) == (True, None, 8)
    assert len(calls) == 2  # the text is what the metric was computed from


def test_a_metric_without_its_fingerprint_is_recomputed() -> None:
    # what an input file written by an earlier run (or by hand) carries: no fingerprint
    s = chat("q", "four")
    s.meta["stats"] = {"length_filter:chars@assistant": 99}
    assert run(build_op("length_filter", {"targets": "assistant", "max": 10}), s) == (True, None, 4)


def test_a_memo_fingerprints_only_what_may_be_reused(monkeypatch) -> None:
    calls = []
    stats = LengthFilter.stats
    monkeypatch.setattr(LengthFilter, "stats", lambda self, s: calls.append(1) or stats(self, s))
    key = "length_filter:chars@assistant"
    op = build_op("length_filter", {"targets": "assistant"})
    s = chat("q", "four")
    op.apply([s], MetricMemo(stamp=frozenset()))  # no other filter reads this metric
    assert s.meta == {"stats": {key: 4}}
    op.apply([s], MetricMemo(stamp=frozenset({key})))
    assert s.meta == {"stats": {key: 4}, "stats_fp": {key: content_fingerprint(s)}}
    assert len(calls) == 2  # a metric stored without its fingerprint is measured again
    op.apply([s], MetricMemo(stamp=frozenset({key})))
    assert len(calls) == 2
    s.messages[1].content = "three"
    op.apply([s], MetricMemo(stamp=frozenset()))
    assert s.meta == {"stats": {key: 5}}  # the old fingerprint went with the old value
    assert len(calls) == 3


def test_a_memo_serves_known_metrics_by_fingerprint() -> None:
    key = "length_filter:chars@assistant"
    op = build_op("length_filter", {"targets": "assistant", "max": 10})
    known, other = chat("q", "four"), chat("q", "five!")
    memo = MetricMemo({key: {content_fingerprint(known): 42}}, stamp=frozenset())
    kept, rejects = op.apply([known, other], memo)
    assert (kept, rejects[0].sample, rejects[0].value) == ([other], known, 42)
    assert memo.computed == {key: {content_fingerprint(other): 5}}


def test_content_fingerprint_covers_what_filters_read() -> None:
    def variants() -> list[Sample]:
        base = chat("q", "a")
        out = [base, chat("q", "b"), chat("a", "q"), chat("q", "a", system="s")]
        for edit in (
            lambda s: setattr(s.messages[1], "role", "user"),
            lambda s: setattr(s.messages[1], "reasoning", "r"),
            lambda s: setattr(s.messages[1], "tool_calls", [ToolCall("f", {"x": 1})]),
            lambda s: setattr(s.messages[1], "train", False),
            lambda s: setattr(s, "tools", [{"name": "f"}]),
            lambda s: setattr(s, "rejected", Message("assistant", "a")),
            lambda s: setattr(s, "label", True),
        ):
            s = chat("q", "a")
            edit(s)
            out.append(s)
        return out

    fps = [content_fingerprint(s) for s in variants()]
    assert len(set(fps)) == len(fps)
    same = chat("q", "a", system=None)
    same.id, same.meta = "other id", {"stats": {"x": 1}}
    assert content_fingerprint(same) == fps[0]  # neither the id nor meta


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


def test_empty_answer_placeholder_lists_are_different_metrics() -> None:
    s = chat("q", "见上文")
    assert run(build_op("empty_answer_filter"), s) == (True, None, 0)
    custom = build_op("empty_answer_filter", {"extra_placeholders": ["见上文"]})
    assert run(custom, s) == (False, "placeholder assistant '见上文'", 1)
    assert len(s.meta["stats"]) == 2


class _PerSampleLength(LengthFilter):
    """Overrides ``keep``: ``Filter.apply`` must then call it for every sample (the reference
    for the direct branch below)."""

    def keep(self, sample: Sample, memo: MetricMemo | None = None) -> bool | tuple[bool, str]:
        return super().keep(sample, memo)


def _mixed_chunk() -> list[Sample]:
    key = "length_filter:chars@assistant"
    fresh, stale = chat("q", "four"), chat("q", "five!")
    # a stored value with this content's fingerprint is reused (3, not the measured 4) ...
    fresh.meta.update({"stats": {key: 3}, "stats_fp": {key: content_fingerprint(fresh)}})
    # ... one with another content's fingerprint is measured again and loses its stamp
    stale.meta.update({"stats": {key: 1}, "stats_fp": {key: 12345, "other": 6}})
    return [chat("q", "four"), chat("q", "longer text"), fresh, stale, chat("问", "你好世界啊")]


def test_a_chunk_measured_without_stamps_matches_the_per_sample_path(monkeypatch) -> None:
    """``Filter.apply`` measures directly when the memo stamps nothing and a sample carries no
    stamp of the key; samples with a stamp still go through ``metric``. Meta, kept samples
    and rejects are those of the per-sample path, CJK text included."""
    opts = {"targets": "assistant", "max": 4}
    direct, reference = _mixed_chunk(), _mixed_chunk()
    calls: list[str] = []
    stats = LengthFilter.stats
    monkeypatch.setattr(
        LengthFilter, "stats", lambda self, s: calls.append(s.messages[1].content) or stats(self, s)
    )
    kept_a, rej_a = build_op("length_filter", opts).apply(direct, MetricMemo(stamp=frozenset()))
    assert calls == ["four", "longer text", "five!", "你好世界啊"]  # the fresh stamp was reused
    kept_b, rej_b = _PerSampleLength(**opts).apply(reference, MetricMemo(stamp=frozenset()))
    assert [s.meta for s in direct] == [s.meta for s in reference]
    assert direct[2].meta["stats"] == {"length_filter:chars@assistant": 3}
    assert direct[3].meta["stats_fp"] == {"other": 6}  # only the stale stamp went
    assert [s.id for s in kept_a] == [s.id for s in kept_b] == [direct[0].id, direct[2].id]
    assert [(r.sample.id, r.reason, r.value) for r in rej_a] == [
        (r.sample.id, r.reason, r.value) for r in rej_b
    ]
    assert [r.value for r in rej_a] == [11, 5, 5]


def test_a_filter_overriding_metric_is_not_bypassed() -> None:
    """The direct branch is only for filters that keep ``Filter.metric``: field_filter reads
    meta at every use and must see each call."""
    s = chat("q", "a")
    s.meta["lang"] = "en"
    op = build_op("field_filter", {"field": "meta.lang", "equals": "en"})
    kept, _ = op.apply([s], MetricMemo(stamp=frozenset()))
    assert kept == [s]
    s.meta["lang"] = "de"
    kept, rejects = op.apply([s], MetricMemo(stamp=frozenset()))
    assert kept == [] and rejects[0].value == "de"
