"""Oracle: templates without {% generation %} marks, against transformers' apply_chat_template.

47 templates written in ``family_templates.py`` reproduce the structures of the real families.
Each is run as shipped (marks removed) on Chinese and English multi-turn conversations with
system prompts, tool calls and tool results, with a byte-level BPE and a SentencePiece tokenizer
built in the test. Where the template is prefix-stable the ids must equal
``apply_chat_template(tokenize=True)`` of the unmarked template and the labels the
``return_assistant_tokens_mask`` of the marked copy; elsewhere the sample must be refused with the
first differing assistant turn named (the policies are tested in test_chat_unstable_policies.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from chat_fixtures import hf_messages
from family_templates import FAMILIES, FAMILY_CONVERSATIONS, Family, conversations_for, unmarked

from sftforge.chat import ChatTokenizer
from sftforge.chat.templates import ChatTemplate, has_generation_marks
from sftforge.chat.tokenize import tokenize_samples
from sftforge.sample import Sample


def hf_ids_labels(
    tok: Any, family: Family, messages: list[dict[str, Any]], tools: Any, **extra: Any
) -> tuple[list[int], list[int], str]:
    """ids of the unmarked template, labels from the marked copy's assistant mask, and text."""
    kwargs = {**family.kwargs, **extra}
    ids = list(
        tok.apply_chat_template(
            messages,
            tools=tools,
            chat_template=unmarked(family.source),
            tokenize=True,
            return_dict=True,
            **kwargs,
        )["input_ids"]
    )
    out = tok.apply_chat_template(
        messages,
        tools=tools,
        chat_template=family.source,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **kwargs,
    )
    assert list(out["input_ids"]) == ids  # the marks change nothing but the mask
    labels = [t if m else -100 for t, m in zip(ids, out["assistant_masks"], strict=True)]
    text = tok.apply_chat_template(
        messages, tools=tools, chat_template=unmarked(family.source), tokenize=False, **kwargs
    )
    return ids, labels, text


def shipped(family: Family) -> ChatTemplate:
    return ChatTemplate(family.name, unmarked(family.source), dict(family.kwargs))


def test_at_least_forty_templates_none_marked() -> None:
    assert len(FAMILIES) >= 40
    assert not any(has_generation_marks(unmarked(f.source)) for f in FAMILIES.values())
    assert all(has_generation_marks(f.source) for f in FAMILIES.values())


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_unmarked_template_equals_transformers(
    family_tokenizers: dict[str, Any], name: str, kind: str
) -> None:
    family = FAMILIES[name]
    tok = family_tokenizers[kind]
    chat = ChatTokenizer(tok, shipped(family))
    convs = conversations_for(family)
    assert convs
    checked = 0
    for conv in convs:
        sample = FAMILY_CONVERSATIONS[conv]
        result = tokenize_samples([sample], chat)
        if conv in family.unstable:
            assert not result.rows, conv
            (rej,) = result.rejects
            assert rej.reason == "not_prefix_stable"
            assert f"assistant turn {family.unstable[conv]}:" in str(rej.value)
            assert "--unstable last|split|keep-reasoning" in str(rej.value)
            continue
        assert not result.rejects, (conv, result.rejects and result.rejects[0].value)
        (row,) = result.rows
        ids, labels, text = hf_ids_labels(tok, family, hf_messages(sample), sample.tools)
        assert chat.render(sample).text == text, conv
        assert row.input_ids == ids, conv
        assert row.labels == labels, conv
        assert row.n_trained > 0
        checked += 1
    assert checked  # every template is checked on at least one conversation


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
def test_documents_reach_the_template(family_tokenizers: dict[str, Any], kind: str) -> None:
    """A sample's meta["documents"] is the template's ``documents`` (Command-R's RAG form)."""
    family, tok = FAMILIES["command-r"], family_tokenizers[kind]
    docs = [{"title": "天气", "text": "北京今天晴。"}, {"title": "Weather", "text": "Sunny."}]
    base = FAMILY_CONVERSATIONS["zh_multi"]
    sample = Sample(list(base.messages), meta={"documents": docs})
    row = ChatTokenizer(tok, shipped(family)).tokenize(sample)
    ids, labels, text = hf_ids_labels(tok, family, hf_messages(sample), None, documents=docs)
    assert "## Documents" in text and "北京今天晴。" in text
    assert row.input_ids == ids
    assert row.labels == labels
