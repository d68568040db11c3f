"""Session fixtures: the tiny tokenizers of chat_fixtures, built once per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chat_fixtures import build_bpe, build_sentencepiece


@pytest.fixture(scope="session")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bpe(tmp_path_factory.mktemp("bpe"))


@pytest.fixture(scope="session")
def sp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sentencepiece(tmp_path_factory.mktemp("sp"))


@pytest.fixture(scope="session")
def bpe_tok(bpe_dir: Path) -> Any:
    from sftforge.chat import load_tokenizer

    return load_tokenizer(bpe_dir)


@pytest.fixture(scope="session")
def sp_tok(sp_dir: Path) -> Any:
    from sftforge.chat import load_tokenizer

    return load_tokenizer(sp_dir)


@pytest.fixture(scope="session")
def tokenizers_by_kind(bpe_tok: Any, sp_tok: Any) -> dict[str, Any]:
    return {"bpe": bpe_tok, "sentencepiece": sp_tok}


@pytest.fixture(scope="session")
def family_tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Byte-level BPE and SentencePiece tokenizers knowing every family's special tokens."""
    from family_templates import FAMILY_CONVERSATIONS, FAMILY_SPECIALS

    from sftforge.chat import load_tokenizer

    corpus = [m.content for s in FAMILY_CONVERSATIONS.values() for m in s.messages]
    bpe = build_bpe(tmp_path_factory.mktemp("family-bpe"), FAMILY_SPECIALS, corpus)
    sp = build_sentencepiece(tmp_path_factory.mktemp("family-sp"), FAMILY_SPECIALS, corpus)
    return {"bpe": load_tokenizer(bpe), "sentencepiece": load_tokenizer(sp)}
