"""Reading with answers optional (``require_answer=False``: a generator's prompts, a recipe's
input, a studio import of prompts): rows in sftforge's canonical form are read as that form,
with or without an ``id``, where the OpenAI format they fit as well would refuse a conversation
without an answer and keep ``meta`` as an unknown field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftforge.api import read
from sftforge.sample import Sample

PROMPTS = [
    {"messages": [{"role": "user", "content": "什么是数据集?"}]},
    {"messages": [{"role": "system", "content": "简短回答"}, {"role": "user", "content": "hi"}]},
    {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}],
     "meta": {"tags": ["math"]}},
]  # fmt: skip


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_prompts_without_ids_are_read_when_answers_are_optional(tmp_path: Path) -> None:
    src = _write(tmp_path / "prompts.jsonl", PROMPTS)
    with read(src, require_answer=False) as reader:
        samples = list(reader)
        assert reader.format.name == "sftforge"
    assert all(isinstance(s, Sample) for s in samples) and len(samples) == 3
    assert [s.messages[-1].content for s in samples] == ["什么是数据集?", "hi", "2"]
    assert samples[2].meta == {"tags": ["math"]}  # the sample's meta, not an unknown field
    # the ids are the content ids a canonical row without an id always gets
    assert samples[0].id == Sample.from_dict(PROMPTS[0]).id


def test_answers_required_still_refuses_them(tmp_path: Path) -> None:
    """By default (training data) the same rows are OpenAI records, and the two without an
    answer are rejected with the reason and the line."""
    src = _write(tmp_path / "prompts.jsonl", PROMPTS)
    rejects: list[dict[str, Any]] = []
    with read(src, on_error="skip", rejects=rejects.append) as reader:
        samples = list(reader)
        assert reader.format.name == "openai"
    assert len(samples) == 1
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [
        (1, "empty answer"),
        (2, "empty answer"),
    ]


def test_openai_tool_calls_are_not_taken_for_canonical_rows(tmp_path: Path) -> None:
    """OpenAI tool calls (nested under ``function``) keep the file in the OpenAI format."""
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": json.dumps({"q": "天气"}, ensure_ascii=False)},
    }
    rows = [{"messages": [{"role": "user", "content": "天气?"},
                          {"role": "assistant", "content": "", "tool_calls": [call]},
                          {"role": "tool", "content": "晴", "tool_call_id": "c1"},
                          {"role": "assistant", "content": "晴天"}]}]  # fmt: skip
    with read(_write(tmp_path / "tools.jsonl", rows), require_answer=False) as reader:
        [sample] = list(reader)
        assert reader.format.name == "openai"
    assert sample.messages[1].tool_calls[0].name == "f"
