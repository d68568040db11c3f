"""The real minimind tokenizer (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS, hf_messages

from sftforge.chat import ChatTokenizer, get_template, load_tokenizer, render_messages
from sftforge.chat.render import message_dicts
from sftforge.chat.templates import ChatTemplate
from sftforge.chat.tokenize import tokenize_samples
from sftforge.sample import Message, Sample
from shared_data import SHARED_DATA

MINIMIND = SHARED_DATA / "tokenizers/minimind"
ALPACA = SHARED_DATA / "llama_factory/data/alpaca_zh_demo.json"


@pytest.fixture(scope="module")
def minimind() -> Any:
    if not MINIMIND.is_dir():
        pytest.skip("minimind tokenizer not present")
    return load_tokenizer(MINIMIND)


@pytest.fixture(scope="module")
def alpaca_samples() -> list[Sample]:
    if not ALPACA.is_file():
        pytest.skip("LLaMA-Factory demo data not present")
    rows = json.loads(ALPACA.read_text(encoding="utf-8"))[:50]
    return [
        Sample(
            [
                Message("user", (r["instruction"] + "\n" + r["input"]).strip()),
                Message("assistant", r["output"]),
            ]
        )
        for r in rows
    ]


@pytest.mark.parametrize("template_name", ["chatml", "qwen2.5", "qwen3", "qwen3-nothink"])
@pytest.mark.parametrize("conv", list(CONVERSATIONS))
def test_minimind_oracle(minimind: Any, template_name: str, conv: str) -> None:
    template = get_template(template_name)
    sample = CONVERSATIONS[conv]
    row = ChatTokenizer(minimind, template).tokenize(sample)
    out = minimind.apply_chat_template(
        hf_messages(sample),
        tools=sample.tools,
        chat_template=template.source,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **template.variables,
    )
    assert row.input_ids == list(out["input_ids"])
    assert row.labels == [
        t if m else -100 for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True)
    ]


def test_minimind_alpaca_zh_oracle(minimind: Any, alpaca_samples: list[Sample]) -> None:
    template = get_template("qwen2.5")
    chat = ChatTokenizer(minimind, template)
    for sample in alpaca_samples:
        out = minimind.apply_chat_template(
            hf_messages(sample),
            chat_template=template.source,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        row = chat.tokenize(sample)
        assert row.input_ids == list(out["input_ids"])
        assert [x != -100 for x in row.labels] == [bool(m) for m in out["assistant_masks"]]


def test_minimind_own_template_renders_like_transformers(minimind: Any) -> None:
    own = ChatTemplate("tokenizer", minimind.chat_template)
    for sample in CONVERSATIONS.values():
        text, blocks = render_messages(
            message_dicts(sample),
            own,
            tools=sample.tools,
            special_tokens=dict(minimind.special_tokens_map),
        )
        assert blocks == []
        assert text == minimind.apply_chat_template(
            hf_messages(sample), tools=sample.tools, tokenize=False
        )


def _multi_turn_zh(rows: list[dict[str, str]], n: int) -> list[Sample]:
    """n conversations of two or three Chinese turns each, from consecutive demo rows."""
    out = []
    for k in range(n):
        turns = rows[k : k + 2 + k % 2]
        messages = [Message("system", "你是一个乐于助人的助手。")] if k % 3 == 0 else []
        for r in turns:
            messages.append(Message("user", (r["instruction"] + "\n" + r["input"]).strip()))
            messages.append(Message("assistant", r["output"]))
        out.append(Sample(messages))
    return out


def test_minimind_tokenizes_with_its_own_template(minimind: Any) -> None:
    """60 multi-turn Chinese conversations: ids equal the tokenizer's own apply_chat_template,
    and the trained tokens are exactly each answer and its <|im_end|> (the empty <think> block
    is in the template's generation prompt, so it is context, not trained)."""
    if not ALPACA.is_file():
        pytest.skip("LLaMA-Factory demo data not present")
    rows = json.loads(ALPACA.read_text(encoding="utf-8"))[:70]
    samples = _multi_turn_zh(rows, 60)
    chat = ChatTokenizer(minimind)  # no --template: the tokenizer's own
    assert chat.template.name == "tokenizer"  # type: ignore[union-attr]
    result = tokenize_samples(samples, chat)
    assert not result.rejects
    assert len(result.rows) == 60
    for sample, row in zip(samples, result.rows, strict=True):
        own = minimind.apply_chat_template(hf_messages(sample), tokenize=True, return_dict=True)
        assert row.input_ids == list(own["input_ids"])
        trained = [t for t in row.labels if t != -100]
        answers = "".join(
            m.content + "<|im_end|>" for m in sample.messages if m.role == "assistant"
        )
        assert minimind.decode(trained) == answers
