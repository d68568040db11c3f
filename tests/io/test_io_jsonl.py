"""The JSONL reader: block parsing and line-by-line fallback agree with a plain per-line parse."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftforge.io.jsonl as jsonl

LINES = st.lists(
    st.one_of(
        st.dictionaries(st.text("abc中", max_size=3), st.integers(0, 9), max_size=3).map(
            orjson.dumps
        ),
        st.sampled_from([b"", b"  ", b"[1, 2]", b"{bad", b'"s"', b"1 2", b"x" * 40, b"\r"]),
    ),
    max_size=30,
)


def reference(lines: list[bytes], limit: int) -> list[tuple[int, Any, str | None]]:
    out = []
    for i, raw in enumerate(lines, 1):
        if len(raw) > limit:
            out.append((i, None, "too_large"))
            continue
        if not raw.strip():
            continue
        try:
            out.append((i, orjson.loads(raw), None))
        except orjson.JSONDecodeError:
            out.append((i, None, "error"))
    return out


@settings(max_examples=150, deadline=None)
@given(LINES, st.sampled_from([1, 5, 64, 1 << 18]), st.sampled_from([b"\n", b"\r\n"]))
def test_blocks_agree_with_per_line_parsing(lines: list[bytes], chunk: int, eol: bytes) -> None:
    data = eol.join(lines) + (eol if lines else b"")
    limit = 30
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonl, "_CHUNK", chunk)
        recs = list(jsonl.iter_jsonl(io.BytesIO(data), "f", max_record_bytes=limit))
    got = [
        (
            r.line,
            r.value,
            None if r.error is None else ("too_large" if r.error.kind == "too_large" else "error"),
        )
        for r in recs
    ]
    expected = reference([ln + eol[:-1] for ln in lines], limit)
    assert got == expected
