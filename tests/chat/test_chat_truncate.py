"""Truncation policies and the never-silently-all-masked rule; every sample is accounted for."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS

from sftforge.chat import ChatTokenizer, tokenize_samples
from sftforge.errors import TokenizeError
from sftforge.sample import Message, Sample

SYS_MULTI = Sample(
    [
        Message("system", "You are a helpful assistant."),
        Message("user", "Hello world, how are you?"),
        Message("assistant", "I am fine, thank you. The quick brown fox."),
        Message("user", "你好，世界！"),
        Message("assistant", "你好！今天天气很好。"),
        Message("user", "The lazy dog?"),
        Message("assistant", "Jumps over."),
    ]
)


def length(tok: Any, sample: Sample) -> int:
    return len(ChatTokenizer(tok, "chatml").tokenize(sample).input_ids)


def test_drop_rejects_long_samples(bpe_tok: Any) -> None:
    full = length(bpe_tok, SYS_MULTI)
    result = tokenize_samples(
        [SYS_MULTI, CONVERSATIONS["single"]], bpe_tok, "chatml", max_len=full - 1
    )
    assert [r.id for r in result.rows] == [CONVERSATIONS["single"].id]
    assert [(r.reason, r.value) for r in result.rejects] == [
        ("too_long", f"{full} tokens > max_len {full - 1} (truncation=drop)")
    ]
    assert result.counts == {"seen": 2, "kept": 1, "rejected:too_long": 1}


def test_cut_answer_keeps_the_prefix(bpe_tok: Any) -> None:
    whole = ChatTokenizer(bpe_tok, "chatml").tokenize(SYS_MULTI)
    cut = len(whole.input_ids) - 3
    row = ChatTokenizer(bpe_tok, "chatml", max_len=cut, truncation="cut_answer").tokenize(SYS_MULTI)
    assert (row.input_ids, row.labels, row.truncated) == (
        whole.input_ids[:cut],
        whole.labels[:cut],
        "cut_answer",
    )


def test_cut_answer_with_no_answer_left_is_rejected(bpe_tok: Any) -> None:
    result = tokenize_samples([SYS_MULTI], bpe_tok, "chatml", max_len=5, truncation="cut_answer")
    assert result.rows == []
    assert [(r.reason, r.value) for r in result.rejects] == [
        ("no_trained_tokens", "every label is -100 after truncation")
    ]


@pytest.mark.parametrize("kept_exchanges", [1, 2])
def test_drop_oldest_turns_keeps_system_and_last_turns(bpe_tok: Any, kept_exchanges: int) -> None:
    tail = SYS_MULTI.messages[-2 * kept_exchanges :]
    expected_sample = replace(SYS_MULTI, messages=[SYS_MULTI.messages[0], *tail])
    expected = ChatTokenizer(bpe_tok, "chatml").tokenize(expected_sample)
    chat = ChatTokenizer(
        bpe_tok, "chatml", max_len=len(expected.input_ids), truncation="drop_oldest_turns"
    )
    row = chat.tokenize(SYS_MULTI)
    assert (row.input_ids, row.labels, row.truncated) == (
        expected.input_ids,
        expected.labels,
        "drop_oldest_turns",
    )


def test_drop_oldest_turns_rejects_when_last_turn_too_long(bpe_tok: Any) -> None:
    result = tokenize_samples(
        [SYS_MULTI], bpe_tok, "chatml", max_len=10, truncation="drop_oldest_turns"
    )
    assert [r.reason for r in result.rejects] == ["too_long_last_turn"]


def test_all_masked_row_is_rejected_not_written(bpe_tok: Any) -> None:
    samples = [CONVERSATIONS["single"], CONVERSATIONS["reasoning"]]
    result = tokenize_samples(samples, bpe_tok, "chatml", train_on="flags")
    assert result.rows == []
    assert [r.reason for r in result.rejects] == ["no_trained_tokens"] * 2
    assert result.counts["seen"] == len(result.rows) + len(result.rejects)


def test_template_error_is_a_reject_with_reason(bpe_tok: Any) -> None:
    result = tokenize_samples([CONVERSATIONS["tools"], CONVERSATIONS["single"]], bpe_tok, "llama2")
    assert len(result.rows) == 1
    assert [(r.op, r.reason) for r in result.rejects] == [("tokenize", "template_error")]
    assert "llama2 has no tool turns" in result.rejects[0].value


def test_single_tokenize_raises_with_reason(bpe_tok: Any) -> None:
    with pytest.raises(TokenizeError, match="too_long"):
        ChatTokenizer(bpe_tok, "chatml", max_len=3).tokenize(SYS_MULTI)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"truncation": "middle"}, "unknown truncation policy 'middle'"),
        ({"max_len": 0}, "max_len must be positive, got 0."),
    ],
)
def test_bad_options(bpe_tok: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(TokenizeError, match=message):
        ChatTokenizer(bpe_tok, "chatml", **options)
