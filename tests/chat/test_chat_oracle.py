"""Oracle: our render + tokenize + mask equals transformers' apply_chat_template on every template."""

from __future__ import annotations

from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS, TOOL_TEMPLATES, hf_messages

from sftforge.chat import ChatTokenizer, get_template, template_names
from sftforge.chat.templates import TEMPLATE_NAMES

CASES = [
    (name, conv, kind)
    for name in TEMPLATE_NAMES
    for conv in CONVERSATIONS
    for kind in ("bpe", "sentencepiece")
    if conv != "tools" or name in TOOL_TEMPLATES
]


def _oracle(tok: Any, template_name: str, conv: str) -> tuple[list[int], list[int]]:
    template = get_template(template_name)
    sample = CONVERSATIONS[conv]
    out = tok.apply_chat_template(
        hf_messages(sample),
        tools=sample.tools,
        chat_template=template.source,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **template.variables,
    )
    ids = list(out["input_ids"])
    labels = [t if m else -100 for t, m in zip(ids, out["assistant_masks"], strict=True)]
    return ids, labels


@pytest.mark.parametrize(("template_name", "conv", "kind"), CASES)
def test_ids_and_labels_equal_transformers(
    tokenizers_by_kind: dict[str, Any], template_name: str, conv: str, kind: str
) -> None:
    tok = tokenizers_by_kind[kind]
    chat = ChatTokenizer(tok, template_name)
    row = chat.tokenize(CONVERSATIONS[conv])
    ids, labels = _oracle(tok, template_name, conv)
    assert row.input_ids == ids
    assert row.labels == labels


@pytest.mark.parametrize(("template_name", "conv", "kind"), CASES)
def test_decode_equals_rendered_text(
    tokenizers_by_kind: dict[str, Any], template_name: str, conv: str, kind: str
) -> None:
    tok = tokenizers_by_kind[kind]
    chat = ChatTokenizer(tok, template_name)
    sample = CONVERSATIONS[conv]
    rendered = chat.render(sample)
    text = tok.apply_chat_template(
        hf_messages(sample),
        tools=sample.tools,
        chat_template=chat.template.source,  # type: ignore[union-attr]
        tokenize=False,
        **chat.template.variables,  # type: ignore[union-attr]
    )
    assert rendered.text == text
    assert tok.decode(chat.tokenize(sample).input_ids, skip_special_tokens=False) == text


def test_every_template_has_generation_marks() -> None:
    assert all(get_template(name).has_marks for name in template_names())
