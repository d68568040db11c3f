"""LLaMA-Factory dataset_info.json: entries -> configured formats, and entries written back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sftforge.errors import FormatError
from sftforge.formats import (
    AlpacaFormat,
    DatasetFeatures,
    LossLog,
    ShareGPTFormat,
    TextFormat,
    dataset_info_entry,
    format_from_entry,
    get_format,
    load_dataset_info,
)
from sftforge.sample import Media, Message, Sample

ORCA = {"columns": {"prompt": "question", "response": "response", "system": "system_prompt"}}
MLLM = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "images": "images"},
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    },
}
RANK = {
    "ranking": True,
    "columns": {"prompt": "instruction", "chosen": "chosen", "rejected": "rejected"},
}
KTO = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "kto_tag": "label"},
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    },
}


@pytest.mark.parametrize(
    ("entry", "record", "expected"),
    [
        (
            ORCA,
            {"question": "q", "response": "a", "system_prompt": "s", "system": "ignored"},
            # a key that is not a configured column is not read as one: it is kept as a field
            Sample(
                [Message("system", "s"), Message("user", "q"), Message("assistant", "a")],
                meta={"fields": {"system": "ignored"}},
            ),
        ),
        (
            {},
            {"instruction": "q", "input": "", "output": "a", "system": "not a column here"},
            Sample(
                [Message("user", "q"), Message("assistant", "a")],
                meta={"fields": {"system": "not a column here"}},
            ),
        ),
        (
            MLLM,
            {
                "messages": [
                    {"role": "user", "content": "<image>x"},
                    {"role": "assistant", "content": "y"},
                ],
                "images": ["1.jpg"],
            },
            Sample(
                [Message("user", "<image>x"), Message("assistant", "y")],
                media=[Media("image", "1.jpg")],
            ),
        ),
        (
            RANK,
            {"instruction": "q", "chosen": "good", "rejected": "bad"},
            Sample(
                [Message("user", "q"), Message("assistant", "good")],
                rejected=Message("assistant", "bad"),
            ),
        ),
        (
            KTO,
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
                "label": False,
            },
            Sample([Message("user", "q"), Message("assistant", "a")], label=False),
        ),
    ],
)
def test_entry_configures_the_format(entry: dict[str, Any], record: Any, expected: Sample) -> None:
    assert format_from_entry("d", entry).parse(record) == expected


def test_prompt_only_entry_is_a_document_set() -> None:
    fmt = format_from_entry("c4", {"file_name": "c4.jsonl", "columns": {"prompt": "content"}})
    assert isinstance(fmt, TextFormat)
    assert fmt.parse({"content": "some text"}).text == "some text"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"formatting": "csv"},
            "dataset_info entry 'd': unknown formatting 'csv' (valid: alpaca, sharegpt).",
        ),
        (
            {"columns": {"answer": "a"}},
            "dataset_info entry 'd': unknown column(s) answer (valid: prompt, query, response, history, "
            "messages, system, tools, images, videos, audios, chosen, rejected, kto_tag).",
        ),
        (
            {"formatting": "sharegpt", "tags": {"speaker": "x"}},
            "dataset_info entry 'd': unknown tag(s) speaker (valid: role_tag, content_tag, user_tag, assistant_tag, observation_tag, function_tag, system_tag).",
        ),
    ],
)
def test_bad_entries_are_named(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError) as exc:
        format_from_entry("d", entry)
    assert exc.value.message == message


def test_load_resolves_files_next_to_the_json(tmp_path: Path) -> None:
    info = {
        "mine": {"file_name": "data/mine.json", "formatting": "sharegpt"},
        "hub": {"hf_hub_url": "org/set"},
    }
    (tmp_path / "dataset_info.json").write_bytes(orjson.dumps(info))
    entries = load_dataset_info(tmp_path / "dataset_info.json")
    assert entries["mine"].path == (tmp_path / "data" / "mine.json").resolve()
    assert isinstance(entries["mine"].format, ShareGPTFormat)
    assert entries["hub"].path is None and entries["hub"].hub == "org/set"
    assert list(load_dataset_info(tmp_path / "dataset_info.json", "hub")) == ["hub"]


def test_load_refuses_paths_outside_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "dataset_info.json"
    path.write_bytes(orjson.dumps({"evil": {"file_name": "../../etc/passwd"}}))
    with pytest.raises(FormatError) as exc:
        load_dataset_info(path)
    assert exc.value.file == str(path)
    assert (
        exc.value.message
        == f"dataset_info entry 'evil': 'file_name' '../../etc/passwd' points outside {tmp_path}."
    )
    with pytest.raises(FormatError) as exc:
        load_dataset_info(path, "other")
    assert (
        str(exc.value) == f"{path}: dataset_info.json has no entry 'other'. Fix: use one of: evil"
    )


SAMPLES = [
    Sample(
        [
            Message("system", "你好"),
            Message("user", "q1"),
            Message("assistant", "a1"),
            Message("user", "q2"),
            Message("assistant", "a2"),
        ]
    ),
    Sample(
        [Message("user", "<image>看"), Message("assistant", "猫")],
        media=[Media("image", "c.jpg")],
    ),
    Sample(
        [Message("user", "q"), Message("assistant", "good")], rejected=Message("assistant", "bad")
    ),
]


@pytest.mark.parametrize("writer", ["alpaca", "sharegpt"])
@pytest.mark.parametrize("samples", [SAMPLES[:2], SAMPLES[2:]])
def test_written_entry_reads_the_written_data_back(writer: str, samples: list[Sample]) -> None:
    fmt = get_format(writer)
    features = DatasetFeatures()
    records = []
    for s in samples:
        records.append(fmt.dump(s, LossLog()))
        features.observe(s)
    entry = dataset_info_entry(fmt, "out.json", features)
    assert entry.get("ranking", False) is features.ranking
    reader = format_from_entry("out", entry)
    assert [reader.parse(r) for r in records] == samples


def test_mixed_preference_and_plain_data_cannot_be_one_entry() -> None:
    features = DatasetFeatures()
    for s in SAMPLES:
        features.observe(s)
    with pytest.raises(FormatError) as exc:
        dataset_info_entry(get_format("sharegpt"), "x.json", features)
    assert exc.value.message == (
        "the data mixes preference pairs, KTO-labelled and plain samples; "
        "a LLaMA-Factory dataset holds one kind."
    )


def test_written_entries_are_exact() -> None:
    features = DatasetFeatures()
    features.observe(SAMPLES[0])
    assert dataset_info_entry(get_format("alpaca"), "a.json", features) == {
        "file_name": "a.json",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
            "history": "history",
        },
    }
    assert dataset_info_entry(get_format("sharegpt"), "s.jsonl", DatasetFeatures(tools=True)) == {
        "file_name": "s.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system",
        },
    }
    with pytest.raises(
        FormatError, match="LLaMA-Factory reads alpaca or sharegpt data, not 'openai'"
    ):
        dataset_info_entry(get_format("openai"), "o.jsonl", features)


def test_alpaca_entry_instance_is_configured() -> None:
    fmt = format_from_entry("o", ORCA)
    assert isinstance(fmt, AlpacaFormat)
    assert not fmt.capabilities.multi_turn and fmt.capabilities.system


def test_ranking_entry_defaults_to_chosen_and_rejected_columns() -> None:
    fmt = format_from_entry("d", {"formatting": "sharegpt", "ranking": True})
    record = {
        "conversations": [{"from": "human", "value": "q"}],
        "chosen": {"from": "gpt", "value": "good"},
        "rejected": {"from": "gpt", "value": "bad"},
    }
    assert fmt.parse(record).rejected == Message("assistant", "bad")
