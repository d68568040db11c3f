from __future__ import annotations

import json

import pytest
from fakeserver import FakeServer

from sftforge.generate import (
    RougeIndex,
    build_generator,
    generate,
    heuristic_reason,
    parse_numbered,
    rouge_l,
    rouge_tokens,
)
from sftforge.llm import LLMConfig
from shared_data import SHARED_DATA

SEEDS = [
    {
        "id": "s0",
        "instruction": "Give three tips for staying healthy.",
        "instances": [{"input": "", "output": "Eat well."}],
        "is_classification": False,
    },
    {
        "id": "s1",
        "instruction": "Classify the sentiment of the sentence.",
        "instances": [{"input": "Great!", "output": "positive"}],
        "is_classification": True,
    },
    {
        "id": "s2",
        "instruction": "Translate the sentence into French.",
        "instances": [{"input": "Hello", "output": "Bonjour"}],
        "is_classification": False,
    },
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World! it's 2024", ["hello", "world", "it", "s", "2024"]),
        ("写一首诗", ["写", "一", "首", "诗"]),
        ("用Python写code", ["用", "python", "写", "code"]),
    ],
)
def test_rouge_tokens_are_cjk_aware(text: str, expected: list[str]) -> None:
    assert rouge_tokens(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("the cat sat", "the dog sat", 2 / 3),
        ("a b c d", "x y", 0.0),
        ("写一首关于春天的诗", "写一首关于秋天的诗", 8 / 9),
        ("", "anything", 0.0),
    ],
)
def test_rouge_l(a: str, b: str, expected: float) -> None:
    assert rouge_l(a, b) == pytest.approx(expected)


def test_rouge_index_max_score() -> None:
    idx = RougeIndex()
    for t in ["write a poem about the sea", "list five fruits"]:
        idx.add(t)
    assert idx.max_score("write a poem about the sky") == pytest.approx(10 / 12)
    assert idx.max_score("完全不同") == 0.0


@pytest.mark.parametrize(
    ("instruction", "lang", "expected"),
    [
        ("Write a haiku about autumn leaves.", "en", None),
        ("Hi there", "en", "too short"),
        (
            "Describe the image below in detail.",
            "en",
            "asks for something a text model cannot do (image, file, audio...)",
        ),
        (
            "Draw a map of your town.",
            "en",
            "asks for something a text model cannot do (image, file, audio...)",
        ),
        ("Write a program that sorts numbers.", "en", "'write a program' tasks are ambiguous"),
        ("- List three colours of the rainbow", "en", "starts with punctuation"),
        ("Écris un poème sur la mer", "en", "does not start with an English character"),
        (
            "请根据这张图片写一段描述",
            "zh",
            "asks for something a text model cannot do (image, file, audio...)",
        ),
        ("写一首关于春天的七言绝句", "zh", None),
        ("Write a poem about spring", "zh", "has no Chinese characters"),
        (" ".join(["word"] * 151), "en", "too long"),
    ],
)
def test_heuristic_filters(instruction: str, lang: str, expected: str | None) -> None:
    assert heuristic_reason(instruction, lang) == expected


def test_parse_numbered_drops_a_cut_off_last_line() -> None:
    text = "Here you go:\n4. Write a limerick.\n5) Instruction: Name two rivers.\n6、列出三种水果\n7. Expla"
    assert parse_numbered(text) == [
        "Write a limerick.",
        "Name two rivers.",
        "列出三种水果",
        "Expla",
    ]
    assert parse_numbered(text, truncated=True) == [
        "Write a limerick.",
        "Name two rivers.",
        "列出三种水果",
    ]


def test_self_instruct_end_to_end(server: FakeServer, llm: LLMConfig) -> None:
    gen = build_generator("self_instruct", {"num_instructions": 6, "per_request": 5})
    res = generate(gen, SEEDS, llm)
    assert len(res.samples) == 6 and res.failed == []
    instructions = [s.meta["instruction"] for s in res.samples]
    # every kept instruction is novel against the seeds and each other
    for i, a in enumerate(instructions):
        assert all(
            rouge_l(a, b) < 0.7 for b in instructions[:i] + [s["instruction"] for s in SEEDS]
        )
    reasons = {d["reason"].split(" ")[0] for d in res.dropped}
    assert "asks" in reasons and "ROUGE-L" in reasons  # "Draw a picture", near-duplicates
    cls = [s for s in res.samples if s.meta["is_classification"]]
    assert cls and all(s.messages[-1].content == "positive" for s in cls)  # output-first prompt
    assert all(
        s.meta["answer_from"] == "llm" and s.meta["instruction_from"] == "llm" for s in res.samples
    )
    other = [s for s in res.samples if not s.meta["is_classification"]]
    assert other and all(
        s.messages[-1].content == "Here is the text." for s in other
    )  # repaired JSON
    before = len(server.log)
    again = generate(
        build_generator("self_instruct", {"num_instructions": 6, "per_request": 5}), SEEDS, llm
    )
    assert len(server.log) == before  # a rerun replays from the cache
    assert [s.to_dict() for s in again.samples] == [s.to_dict() for s in res.samples]


def test_stanford_seed_file_parses() -> None:
    path = SHARED_DATA / "stanford_alpaca/seed_tasks.jsonl"
    if not path.exists():
        pytest.skip("shared data not present")
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(rows) == 175 and sum(r["is_classification"] for r in rows) > 0
    assert all(heuristic_reason(r["instruction"], "en") != "too long" for r in rows)


def test_retrying_a_failed_proposal_request_explains_what_to_do(
    server: FakeServer, llm: LLMConfig
) -> None:
    res = generate(build_generator("self_instruct"), [{"stage": "request", "request": 3}], llm)
    assert res.samples == [] and server.log == []
    assert res.failed[0]["reason"].startswith("a proposal request is redone by rerunning")


def _dp_lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = (
                table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
            )
    return table[-1][-1]


def test_bit_parallel_lcs_matches_the_table() -> None:
    import random

    from sftforge.generate.rouge import lcs_length

    rng = random.Random(7)
    for _ in range(500):
        a = [rng.choice("abcde") for _ in range(rng.randrange(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randrange(0, 80))]
        assert lcs_length(a, b) == _dp_lcs(a, b)


def test_rouge_index_agrees_with_brute_force() -> None:
    import random

    rng = random.Random(3)
    words = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "写", "诗", "春", "天"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 12))) for _ in range(120)]
    idx = RougeIndex()
    for t in texts[:60]:
        idx.add(t)
    for t in texts[60:]:
        assert idx.max_score(t) == pytest.approx(max(rouge_l(t, k) for k in texts[:60]))


def test_self_instruct_dry_run_estimates_the_whole_job(server: FakeServer, llm: LLMConfig) -> None:
    gen = build_generator("self_instruct", {"num_instructions": 20, "per_request": 5})
    res = generate(gen, SEEDS, llm, dry_run=True)
    assert server.log == [] and res.estimate is not None
    # 4 proposal requests (20 / 5) and 2 calls (classification check, instance) per instruction
    assert (res.estimate["first_calls_counted"], res.estimate["calls"]) == (llm.concurrency, 44)
