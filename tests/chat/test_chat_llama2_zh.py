"""The bundled chinese-llama-2 tokenizer (SentencePiece; skipped when ../shared/data is absent).

It ships no chat_template: native mode says so in one line, and tokenizes with the family's
Llama-2 template given as a .jinja file, ids equal to transformers' apply_chat_template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chat_fixtures import hf_messages
from family_templates import FAMILIES, FAMILY_CONVERSATIONS, conversations_for, unmarked
from test_chat_family_oracle import hf_ids_labels

from sftforge.chat import ChatTokenizer, load_tokenizer
from sftforge.errors import TemplateError
from shared_data import SHARED_DATA

LLAMA2_ZH = SHARED_DATA / "tokenizers/chinese-llama-2"


@pytest.fixture(scope="module")
def llama2_zh() -> Any:
    if not LLAMA2_ZH.is_dir():
        pytest.skip("chinese-llama-2 tokenizer not present")
    return load_tokenizer(LLAMA2_ZH)


def test_no_own_template_is_one_clear_error(llama2_zh: Any) -> None:
    with pytest.raises(TemplateError, match="has no chat_template") as info:
        ChatTokenizer(llama2_zh)
    assert "--template" in str(info.value) and "\n" not in str(info.value)


def test_tokenizes_with_the_family_template_file(llama2_zh: Any, tmp_path: Path) -> None:
    family = FAMILIES["llama2"]
    path = tmp_path / "llama2.jinja"
    path.write_text(unmarked(family.source), encoding="utf-8")
    chat = ChatTokenizer(llama2_zh, str(path))
    for conv in conversations_for(family):
        sample = FAMILY_CONVERSATIONS[conv]
        row = chat.tokenize(sample)
        ids, labels, _ = hf_ids_labels(llama2_zh, family, hf_messages(sample), sample.tools)
        assert row.input_ids == ids, conv
        assert row.labels == labels, conv
