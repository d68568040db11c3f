"""Labels for tokenizers without offsets: prefix encodings give the same labels as offsets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS, TOOL_TEMPLATES

from sftforge.chat import ChatTokenizer
from sftforge.chat.encode import labels_by_prefix, labels_from_spans
from sftforge.chat.templates import TEMPLATE_NAMES

CASES = [
    (name, conv)
    for name in TEMPLATE_NAMES
    for conv in CONVERSATIONS
    if conv != "tools" or name in TOOL_TEMPLATES
]


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize(("template_name", "conv"), CASES)
def test_prefix_labels_equal_offset_labels(
    tokenizers_by_kind: dict[str, Any], kind: str, template_name: str, conv: str
) -> None:
    tok = tokenizers_by_kind[kind]
    chat = ChatTokenizer(tok, template_name)
    rendered = chat.render(CONVERSATIONS[conv])
    ids, labels, _ = chat.encode([rendered])[0]
    assert labels_by_prefix(tok, rendered.text, ids, rendered.spans) == labels


def test_python_only_sentencepiece_tokenizer(sp_dir: Path) -> None:
    from transformers.models.bert_generation import BertGenerationTokenizer

    slow = BertGenerationTokenizer(
        vocab_file=str(sp_dir / "tokenizer.model"), bos_token="<s>", eos_token="</s>"
    )
    assert not hasattr(slow, "backend_tokenizer")
    chat = ChatTokenizer(slow, "chatml")
    # ASCII covered by the tiny vocabulary: this slow tokenizer's decode has no byte fallback
    sample = CONVERSATIONS["single"]
    row = chat.tokenize(sample)
    rendered = chat.render(sample)
    assert row.input_ids == slow.encode(rendered.text, add_special_tokens=False)
    trained = [t for t, lab in zip(row.input_ids, row.labels, strict=True) if lab != -100]
    expected = "".join(rendered.text[a:b] for a, b in rendered.spans)
    assert expected == "I am fine, thank you.<|im_end|>"
    assert slow.decode(trained) == expected


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize(("template_name", "conv"), CASES)
def test_offset_overlap_labels_equal_char_to_token_labels(
    tokenizers_by_kind: dict[str, Any], kind: str, template_name: str, conv: str
) -> None:
    tok = tokenizers_by_kind[kind]
    chat = ChatTokenizer(tok, template_name)
    rendered = chat.render(CONVERSATIONS[conv])
    ids, labels, enc = chat.encode([rendered])[0]
    assert labels_from_spans(ids, enc.offsets, rendered.spans) == labels
