from __future__ import annotations

import pytest
from fakeserver import FakeServer

from sftforge.generate import build_generator, elimination_reason, generate
from sftforge.llm import LLMConfig
from sftforge.sample import Document, Message, Sample


def _q(text: str, answer: str | None = None) -> Sample:
    msgs = [Message("user", text)] + ([Message("assistant", answer)] if answer else [])
    return Sample(messages=msgs)


@pytest.mark.parametrize(
    ("evolved", "answer", "expected"),
    [
        ("Explain tides in 3 steps", "Tides come from the moon's pull.", None),
        ("#Rewritten Prompt#: explain tides", None, "copied words of the evolving prompt"),
        ("根据给定的提示，解释潮汐", None, "copied words of the evolving prompt"),
        (
            "Do the impossible",
            "Sorry, I can't help with that.",
            "the answer could not be produced (a short apology)",
        ),
        ("Do it", "抱歉，我无法完成。", "the answer could not be produced (a short apology)"),
        ("Do it", "Sorry " + "word " * 90, None),  # a long answer that apologises once is fine
        ("Say nothing", "The, of... and it!", "the answer holds only punctuation and stop words"),
        ("Say nothing", "。。。的了", "the answer holds only punctuation and stop words"),
    ],
)
def test_elimination_rules(evolved: str, answer: str | None, expected: str | None) -> None:
    assert elimination_reason(evolved, answer) == expected


def test_evol_rounds_and_eliminations(server: FakeServer, llm: LLMConfig) -> None:
    items = [_q("Explain tides"), _q("COPY this"), _q("SAME thing"), _q("impossible task")]
    gen = build_generator("evol_instruct", {"rounds": 2, "methods": ["deepen", "constraints"]})
    res = generate(gen, items, llm)
    kept = [(s.meta["evol_round"], s.messages[0].content) for s in res.samples]
    # an eliminated evolution keeps the previous instruction for the next round
    assert kept == [
        (1, "Explain tides Also explain why."),
        (2, "Explain tides Also explain why. Also explain why."),
    ]
    reasons = sorted(d["reason"] for d in res.dropped)
    assert reasons == sorted(
        ["copied words of the evolving prompt"] * 2
        + ["no information gain over the previous instruction"] * 2
        + ["the answer could not be produced (a short apology)"] * 2
    )
    first = res.samples[0]
    assert first.meta["evolved_from"] == "Explain tides" and first.meta["evol_method"] in (
        "deepen",
        "constraints",
    )
    assert first.meta["answer_from"] == "llm" and first.messages[-1].content.startswith(
        "ANSWER: Explain tides"
    )


def test_backtranslate_keeps_only_well_curated_pairs(server: FakeServer, llm: LLMConfig) -> None:
    docs = [
        Document(text="A good doc about rivers and their deltas.", id="d1"),
        Document(text="Buy now! Click here for deals on stuff", id="d2"),
        Document(text="tiny", id="d3"),
    ]
    res = generate(build_generator("backtranslate", {"threshold": 4}), docs, llm)
    assert [(s.messages[0].content, s.messages[1].content) for s in res.samples] == [
        ("What does the text explain?", "A good doc about rivers and their deltas.")
    ]
    m = res.samples[0].meta
    assert (m["answer_from"], m["instruction_from"], m["stats"], m["doc_id"]) == (
        "document",
        "llm",
        {"curation_score": 5},
        "d1",
    )
    assert [d["reason"] for d in res.dropped] == [
        "curation score 2 below 4",
        "document length 4 outside 20..4000",
    ]


def test_translate_round_trip_guard(server: FakeServer, llm: LLMConfig) -> None:
    items = [_q("Hello world", "Hi there"), _q("DRIFT away", "ok")]
    res = generate(build_generator("translate"), items, llm)
    [s] = res.samples
    assert [m.content for m in s.messages] == ["中文：Hello world", "中文：Hi there"]
    assert (s.meta["source_lang"], s.meta["target_lang"], s.meta["stats"]["round_trip_rouge"]) == (
        "en",
        "zh",
        1.0,
    )
    assert res.dropped[0]["reason"] == "round trip ROUGE-L 0.00 below 0.5"


def test_translate_chinese_to_english(server: FakeServer, llm: LLMConfig) -> None:
    res = generate(
        build_generator("translate", {"answers": False, "min_round_trip": None}),
        [_q("你好世界", "答")],
        llm,
    )
    assert [m.content for m in res.samples[0].messages] == ["EN: 你好世界", "答"]
    assert "翻译成英文" in server.log[0].body["messages"][-1]["content"]


def test_paraphrase_similarity_guard(server: FakeServer, llm: LLMConfig) -> None:
    items = [_q("Write a short poem about the sea", "poem"), _q("IDENTICAL words here", "x")]
    res = generate(build_generator("paraphrase"), items, llm)
    assert [s.messages[0].content for s in res.samples] == [
        "Write a short poem about the sea please, kindly"
    ]
    assert (
        res.samples[0].messages[1].content == "poem"
        and res.samples[0].meta["paraphrase_of"] == items[0].id
    )
    assert res.dropped[0]["reason"] == "too close to the original (ROUGE-L 1.00 > 0.9)"


def test_paraphrase_round_trip_method(server: FakeServer, llm: LLMConfig) -> None:
    res = generate(
        build_generator("paraphrase", {"method": "round_trip"}), [_q("Name three rivers", "a")], llm
    )
    # the fake translator is lossless, so the round trip is the original: dropped as unchanged
    assert res.samples == [] and res.dropped[0]["value"] == 1.0
    assert len(server.log) == 2
