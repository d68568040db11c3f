"""The policies for templates that are not prefix-stable, each against transformers.

* ``last``: the whole conversation as the template renders it, only the last assistant turn
  trained: labels = the last block of the marked copy's assistant mask;
* ``split``: one row per assistant turn, row k = the conversation up to turn k as the template
  renders it, trained on turn k only;
* ``keep-reasoning``: every turn as rendered when last (reasoning kept): equals the same template
  rendered with a switch that keeps reasoning in history (``keep_reasoning``, which only the test
  copy has);
* no policy: the sample is refused with the turn named (test_chat_family_oracle.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from chat_fixtures import hf_messages
from family_templates import FAMILIES, FAMILY_CONVERSATIONS, Family
from test_chat_family_oracle import hf_ids_labels, shipped

from sftforge.chat import ChatTokenizer
from sftforge.chat.tokenize import tokenize_samples
from sftforge.sample import Sample

UNSTABLE = [(name, conv) for name, f in FAMILIES.items() for conv in f.unstable]


def last_block(labels: list[int]) -> list[int]:
    """Only the last run of trained labels kept."""
    out = [-100] * len(labels)
    j = len(labels)
    while j > 0 and labels[j - 1] == -100:
        j -= 1
    i = j
    while i > 0 and labels[i - 1] != -100:
        i -= 1
    out[i:j] = labels[i:j]
    return out


def test_every_kind_of_instability_is_covered() -> None:
    unstable = {name for name, _ in UNSTABLE}
    # reasoning dropped from history, system folded into the last user turn, turns numbered
    assert {"qwen3", "mistral-v3", "countdown", "system-last", "mistral-nemo"} <= unstable


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize(("name", "conv"), UNSTABLE)
def test_last_trains_the_last_turn_of_the_full_render(
    family_tokenizers: dict[str, Any], name: str, conv: str, kind: str
) -> None:
    family, tok = FAMILIES[name], family_tokenizers[kind]
    sample = FAMILY_CONVERSATIONS[conv]
    chat = ChatTokenizer(tok, shipped(family), unstable="last")
    row = chat.tokenize(sample)
    ids, labels, _ = hf_ids_labels(tok, family, hf_messages(sample), sample.tools)
    assert row.input_ids == ids
    assert row.labels == last_block(labels)


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize(("name", "conv"), UNSTABLE)
def test_split_gives_one_row_per_turn_as_at_inference(
    family_tokenizers: dict[str, Any], name: str, conv: str, kind: str
) -> None:
    family, tok = FAMILIES[name], family_tokenizers[kind]
    sample = FAMILY_CONVERSATIONS[conv]
    chat = ChatTokenizer(tok, shipped(family), unstable="split")
    result = tokenize_samples([sample], chat)
    turns = [i for i, m in enumerate(sample.messages) if m.role == "assistant"]
    assert not result.rejects
    assert [r.id for r in result.rows] == [f"{sample.id}#{k}" for k in range(1, len(turns) + 1)]
    assert result.counts["split:extra_rows"] == len(turns) - 1
    for row, i in zip(result.rows, turns, strict=True):
        head = Sample(list(sample.messages[: i + 1]), tools=sample.tools)
        ids, labels, _ = hf_ids_labels(tok, family, hf_messages(head), head.tools)
        assert row.input_ids == ids
        assert row.labels == last_block(labels)


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize("name", ["qwen3", "qwen3-nothink"])
@pytest.mark.parametrize("conv", ["reasoning", "en_multi", "tools", "zh_multi"])
def test_keep_reasoning_equals_a_template_that_keeps_it(
    family_tokenizers: dict[str, Any], name: str, conv: str, kind: str
) -> None:
    family, tok = FAMILIES[name], family_tokenizers[kind]
    sample = FAMILY_CONVERSATIONS[conv]
    chat = ChatTokenizer(tok, shipped(family), unstable="keep-reasoning")
    row = chat.tokenize(sample)
    ids, labels, text = hf_ids_labels(
        tok, family, hf_messages(sample), sample.tools, keep_reasoning=True
    )
    assert chat.render(sample).text == text
    assert row.input_ids == ids
    assert row.labels == labels
    for m in sample.messages:
        if m.reasoning:
            assert m.reasoning in text  # kept in history, not only in the last turn


def test_split_follows_train_flags(family_tokenizers: dict[str, Any]) -> None:
    family: Family = FAMILIES["qwen3"]
    sample = Sample.from_dict(
        {
            "messages": [
                {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": "A1", "train": False},
                {"role": "user", "content": "Q2"},
                {"role": "assistant", "content": "A2"},
            ]
        }
    )
    chat = ChatTokenizer(family_tokenizers["bpe"], shipped(family), unstable="split")
    result = tokenize_samples([sample], chat)
    assert [r.id for r in result.rows] == [f"{sample.id}#2"]


def test_unknown_policy_is_refused(family_tokenizers: dict[str, Any]) -> None:
    from sftforge.errors import TokenizeError

    with pytest.raises(TokenizeError, match="last, split, keep-reasoning"):
        ChatTokenizer(family_tokenizers["bpe"], shipped(FAMILIES["qwen3"]), unstable="first")  # type: ignore[arg-type]
