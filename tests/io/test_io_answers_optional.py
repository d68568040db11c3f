"""Reading with answers optional (``require_answer=False``: a generator's prompts, a recipe's
input, a studio import of prompts): rows in sftforge's canonical form that use a key only it
knows (``meta``) are read as that form, with or without an ``id``, where the OpenAI format they
fit as well would keep ``meta`` as an unknown field; plain message rows stay OpenAI records, and
both read a prompt without an answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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


# one record per format whose answer is empty or absent, and the field its error names
WITHOUT_ANSWER = [
    ("alpaca", {"instruction": "写一首诗", "input": "", "output": ""}, "output"),
    ("sharegpt", {"conversations": [{"from": "human", "value": "你好"}]}, "conversations"),
    ("sharegpt", {"conversations": [{"from": "human", "value": "hi"},
                                    {"from": "gpt", "value": ""}]}, "conversations"),
    ("openai", {"messages": [{"role": "user", "content": "天气?"}], "source": "x"}, "messages"),
    ("swift", {"messages": [{"role": "user", "content": "你好"}], "source": "x"}, "messages"),
    ("xtuner", {"conversation": [{"input": "你好", "output": ""}]}, "conversation[0].output"),
    ("flat", {"text": "User: 你好</s>\nAssistant: </s>"}, "text"),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "record", "field"), WITHOUT_ANSWER)
def test_every_format_reads_a_prompt_when_answers_are_optional(
    tmp_path: Path, fmt: str, record: dict[str, Any], field: str
) -> None:
    """Each SFT format reads a record without an answer as its prompt (the empty answer turn
    kept where the record has one) when answers are optional, and otherwise rejects it naming
    the format's own field."""
    src = _write(tmp_path / "in.jsonl", [record])
    with read(src, fmt, require_answer=False) as reader:
        [sample] = list(reader)
    assert isinstance(sample, Sample)
    prompt = [m for m in sample.messages if m.role == "user"]
    assert prompt and prompt[0].content in json.dumps(record, ensure_ascii=False)
    assert all(not m.content.strip() for m in sample.messages if m.role == "assistant")
    rejects: list[dict[str, Any]] = []
    with read(src, fmt, on_error="skip", rejects=rejects.append) as reader:
        assert list(reader) == []
    [reject] = rejects
    assert reject["reason"].startswith("empty answer") and f"'{field}'" in reject["error"]


def test_a_preference_record_still_needs_its_chosen_answer(tmp_path: Path) -> None:
    """Answers optional is for prompts: a preference pair without its chosen answer is still
    refused (there is nothing to prefer)."""
    record = {"prompt": "你好", "chosen": "", "rejected": "走开"}
    src = _write(tmp_path / "pref.jsonl", [record])
    rejects: list[dict[str, Any]] = []
    with read(src, "trl", on_error="skip", rejects=rejects.append, require_answer=False) as reader:
        assert list(reader) == []
    assert rejects[0]["reason"].startswith("empty answer: 'chosen'")


def test_plain_message_rows_stay_openai_records_and_keep_their_prompts(tmp_path: Path) -> None:
    """Rows with nothing only the canonical form knows (no ``meta``) are OpenAI records: the
    prompts are read all the same, and an OpenAI-only problem later in the file (an image
    part) is rejected with the OpenAI reader's own reason, naming the part."""
    rows = [
        {"messages": [{"role": "user", "content": "你好"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {"messages": [{"role": "user",
                       "content": [{"type": "image_url", "image_url": {"url": "x.png"}}]}]},
    ]  # fmt: skip
    rejects: list[dict[str, Any]] = []
    src = _write(tmp_path / "plain.jsonl", rows)
    with read(src, require_answer=False, on_error="skip", rejects=rejects.append) as reader:
        samples = list(reader)
        assert reader.format.name == "openai"
    assert [s.messages[-1].content for s in samples] == ["你好", "yo"]
    [reject] = rejects
    assert reject["line"] == 3 and "'image_url'" in reject["reason"], reject
