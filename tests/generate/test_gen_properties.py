from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftforge.generate import chunk_document, load_documents
from sftforge.llm import estimate_tokens, repair_json_text
from sftforge.sample import Document
from shared_data import SHARED_DATA

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), json_values, max_size=4), fence=st.booleans())
def test_repair_returns_valid_json_unchanged(value: dict, fence: bool) -> None:
    text = json.dumps(value, ensure_ascii=False)
    if fence:
        text = f"Here you go:\n```json\n{text}\n```\nanything else?"
    assert repair_json_text(text) == value


words = st.sampled_from(["alpha", "beta", "gamma", "数据", "模型。", "训练！", "x.", "# Head"])
paragraphs = st.lists(
    st.lists(words, min_size=1, max_size=60).map(" ".join), min_size=1, max_size=12
)


@settings(max_examples=100, deadline=None)
@given(paras=paragraphs, max_tokens=st.integers(20, 120), overlap=st.integers(0, 30))
def test_chunks_fit_and_cover_the_document(paras: list[str], max_tokens: int, overlap: int) -> None:
    doc = Document(text="\n\n".join(paras), id="d")
    chunks = chunk_document(doc, max_tokens=max_tokens, min_tokens=0, overlap=overlap)
    assert all(c.tokens <= max_tokens for c in chunks)
    joined = "".join(c.text.replace("\n", "").replace(" ", "") for c in chunks)
    for p in paras:  # nothing is lost: every character run of the body text is in some chunk
        if p.startswith("# "):
            continue  # a Markdown heading: a section with no body of its own yields no chunk
        for piece in p.split():
            assert piece.lstrip("#") in joined


def test_real_document_chunks() -> None:
    path = SHARED_DATA / "llama_factory/data/wiki_demo.txt"
    if not path.exists():
        pytest.skip("shared data not present")
    [doc] = load_documents(path)
    chunks = chunk_document(doc, max_tokens=800, overlap=100)
    assert len(chunks) > 10 and all(c.tokens <= 800 for c in chunks)
    assert sum(c.tokens for c in chunks) >= estimate_tokens(doc.text) * 0.95
