from __future__ import annotations

import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.ops.dedup.text import normalize, tokens
from sftforge.sample import Media, Message, Sample, ToolCall


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("  HELLO\n\tworld ", "hello world"),
        ("ｈｅｌｌｏ　ｗｏｒｌｄ！", "hello world"),  # full-width folds by NFKC
        ("你好，世界。", "你 好 世 界"),
        ("使用Python3编程", "使 用 python3 编 程"),
        ("zero\u200bwidth", "zerowidth"),
        ("Straße", "strasse"),
        ("emoji 😀 here", "emoji here"),
        ("...!!!", ""),
        ("a\ud800b 你\ud800好", "a b 你 好"),  # lone surrogates never reach the hashers
    ],
)
def test_normalize_table(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_tokens_korean_words_japanese_chars() -> None:
    assert tokens("한국어 단어 こんにちは") == ["한국어", "단어", "こ", "ん", "に", "ち", "は"]


@pytest.mark.parametrize(
    ("users", "view", "kept"),
    [
        (["Hi there!", "hi there", "HI THERE."], "prompt", [0]),
        (["Hi there", "Hi there now"], "prompt", [0, 1]),
        (["你好，世界", "你好 世界！", "你好世界吗"], "prompt", [0, 2]),
        (["a", "b", "a"], "whole", [0, 1]),
    ],
)
def test_exact_dedup_table(mk, run_op, users: list[str], view: str, kept: list[int]) -> None:
    samples = [mk(u, id=f"s{i}") for i, u in enumerate(users)]
    out, rejects = run_op(build_op("dedup_exact", {"view": view}), samples)
    assert [s.id for s in out] == [f"s{i}" for i in kept]
    assert all(r.kept_id == "s0" and r.value == 1.0 for r in rejects)
    assert len(out) + len(rejects) == len(samples)


def test_views_differ(mk, run_op) -> None:
    samples = [mk("q1", "same answer", id="a"), mk("q2", "same answer", id="b")]
    out_p, _ = run_op(build_op("dedup_exact", {"view": "prompt"}), samples)
    out_a, rej_a = run_op(build_op("dedup_exact", {"view": "answer"}), samples)
    assert [s.id for s in out_p] == ["a", "b"]
    assert [s.id for s in out_a] == ["a"]
    assert (rej_a[0].sample.id, rej_a[0].kept_id, rej_a[0].reason) == ("b", "a", "exact_duplicate")


def test_whole_view_includes_system(mk, run_op) -> None:
    samples = [mk("q", id="a", system="You are A."), mk("q", id="b", system="You are B.")]
    out, _ = run_op(build_op("dedup_exact", {"view": "whole"}), samples)
    assert [s.id for s in out] == ["a", "b"]
    out, _ = run_op(build_op("dedup_exact", {"view": "first_user"}), samples)
    assert [s.id for s in out] == ["a"]


def test_keep_longest(mk, run_op) -> None:
    samples = [
        mk("q", "short", id="a"),
        mk("Q!", "a much longer answer", id="b"),
        mk("q", "mid one", id="c"),
    ]
    out, rejects = run_op(build_op("dedup_exact", {"view": "prompt", "keep": "longest"}), samples)
    assert [s.id for s in out] == ["b"]
    assert sorted((r.sample.id, r.kept_id) for r in rejects) == [("a", "b"), ("c", "b")]


def test_empty_views_are_kept_and_counted(mk, run_op) -> None:
    samples = [mk("q1", "", id="a"), mk("q2", "", id="b")]
    op = build_op("dedup_exact", {"view": "answer"})
    out, rejects = run_op(op, samples)
    assert (len(out), len(rejects), op.counters.extra["empty_view"]) == (2, 0, 2)


def test_cluster_sizes(mk, run_op) -> None:
    samples = [mk(u) for u in ["a", "a", "a", "b", "b", "c"]]
    op = build_op("dedup_exact", {"view": "prompt"})
    run_op(op, samples)
    assert op.report()["cluster_sizes"] == {"1": 1, "2": 1, "3-4": 1}
    assert op.counters.extra["clusters"] == 2
    assert op.counters.dropped == {"exact_duplicate": 3}


@pytest.mark.parametrize("options", [{"view": "nope"}, {"keep": "last"}, {"colour": 1}])
def test_bad_options_fail_before_work(options) -> None:
    with pytest.raises(RecipeError):
        build_op("dedup_exact", options)


def _tool_sample(id: str, city: str) -> Sample:
    call = ToolCall("weather", {"city": city})
    return Sample([Message("user", "weather?"), Message("assistant", "", tool_calls=[call])], id=id)


@pytest.mark.parametrize("view", ["whole", "answer"])
def test_tool_calls_are_part_of_whole_and_answer(run_op, view) -> None:
    samples = [_tool_sample("a", "Paris"), _tool_sample("b", "Rome"), _tool_sample("c", "Paris")]
    out, rejects = run_op(build_op("dedup_exact", {"view": view}), samples)
    assert [s.id for s in out] == ["a", "b"] and rejects[0].kept_id == "a"


def test_media_and_rejected_are_part_of_whole(run_op) -> None:
    base = [Message("user", "describe"), Message("assistant", "a cat")]
    samples = [
        Sample(list(base), id="a", media=[Media("image", "1.png")]),
        Sample(list(base), id="b", media=[Media("image", "2.png")]),
        Sample(list(base), id="c", rejected=Message("assistant", "a dog")),
        Sample(list(base), id="d", rejected=Message("assistant", "a bird")),
    ]
    out, _ = run_op(build_op("dedup_exact", {"view": "whole"}), samples)
    assert [s.id for s in out] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好𠀀𠀁世界", ["你", "好", "𠀀", "𠀁", "世", "界"]),  # CJK extension B (astral)
        ("々〇", ["々", "〇"]),
        ("カタカナ", ["カ", "タ", "カ", "ナ"]),
        ("ｶﾀｶﾅ", ["カ", "タ", "カ", "ナ"]),  # half-width kana fold by NFKC
    ],
)
def test_cjk_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("op", "options"),
    [
        ("dedup_exact", {"view": "prompt"}),
        ("dedup_near", {"view": "prompt", "threshold": 0.5, "ngram": 2}),
    ],
)
def test_rejects_locate_their_kept_twin(mk, run_op, op: str, options: dict) -> None:
    """Identical samples share a content id; ``kept`` tells which record was kept."""
    text = "the same long question asked twice over"
    samples = [
        mk("something else entirely", source="b", row=1),
        mk(text, source="a", row=7),
        mk(text, source="b", row=2),
        mk(text),  # no locator: an operator's own sample
    ]
    longest = {"keep": "longest"}
    out, rejects = run_op(build_op(op, options), samples)
    assert [s.meta.get("row") for s in out] == [1, 7]
    assert [(r.sample.meta.get("row"), r.kept) for r in rejects] == [
        (2, {"source": "a", "row": 7}),
        (None, {"source": "a", "row": 7}),
    ]
    assert rejects[0].kept_id == rejects[0].sample.id == samples[1].id
    assert rejects[0].to_dict()["kept"] == {"source": "a", "row": 7}
    # the kept twin comes after its duplicate (keep: longest), and has no locator
    samples[3].messages[1].content = "a longer answer than the others"
    out, rejects = run_op(build_op(op, options | longest), samples)
    assert [s.meta.get("row") for s in out] == [1, None]
    assert [(r.sample.meta.get("row"), r.kept) for r in rejects] == [(7, None), (2, None)]
    assert "kept" not in rejects[0].to_dict()
