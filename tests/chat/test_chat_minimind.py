"""The real minimind tokenizer (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS, hf_messages

from sftforge.chat import ChatTokenizer, get_template, load_tokenizer, render_messages
from sftforge.chat.render import message_dicts
from sftforge.chat.templates import ChatTemplate
from sftforge.errors import TemplateError
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


def test_minimind_own_template_has_no_marks(minimind: Any) -> None:
    with pytest.raises(
        TemplateError, match="chat template 'tokenizer' has no \\{% generation %\\} marks"
    ):
        ChatTokenizer(minimind)
