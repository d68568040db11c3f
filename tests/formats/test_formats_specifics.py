"""Behaviour particular to single formats: variants each reads, and exactly what each writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from formats_records import GOOD, TOOLS

import sftforge.formats as formats_pkg
from sftforge.errors import ConversionError, FormatError
from sftforge.formats import LossLog, ShareGPTFormat, get_format
from sftforge.sample import Message, Sample, ToolCall

QA = Sample([Message("user", "q"), Message("assistant", "a")])


def test_sharegpt_custom_tags_read_and_write() -> None:
    fmt = ShareGPTFormat(
        {"messages": "dialog"},
        {"role_tag": "speaker", "content_tag": "text", "user_tag": "USER", "assistant_tag": "BOT"},
    )
    record = {"dialog": [{"speaker": "USER", "text": "q"}, {"speaker": "BOT", "text": "a"}]}
    assert fmt.parse(record) == QA
    assert fmt.dump(QA, LossLog()) == record


def test_sharegpt_tools_as_list_or_json_string_are_the_same() -> None:
    conv = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]
    fmt = get_format("sharegpt")
    as_list = fmt.parse({"conversations": conv, "tools": TOOLS})
    as_text = fmt.parse(
        {
            "conversations": conv,
            "tools": '[{"name":"weather","description":"查询天气",'
            '"parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]',
        }
    )
    assert as_list == as_text and as_list.tools == TOOLS


def test_function_call_arguments_given_as_a_json_string_become_a_dict() -> None:
    record = {
        "conversations": [
            {"from": "human", "value": "q"},
            {"from": "function_call", "value": '{"name": "f", "arguments": "{\\"x\\": 1}"}'},
            {"from": "observation", "value": "r"},
            {"from": "gpt", "value": "a"},
        ]
    }
    sample = get_format("sharegpt").parse(record)
    assert sample.messages[1].tool_calls == [ToolCall("f", {"x": 1})]


def test_sharegpt_cannot_hold_text_and_calls_in_one_turn() -> None:
    sample = Sample(
        [
            Message("user", "q"),
            Message("assistant", "let me look", tool_calls=[ToolCall("f", {})]),
            Message("tool", "r"),
            Message("assistant", "a"),
        ]
    )
    with pytest.raises(ConversionError, match="cannot carry text alongside tool calls"):
        get_format("sharegpt").dump(sample, LossLog())
    assert get_format("openai").parse(get_format("openai").dump(sample, LossLog())) == sample


def test_openai_reads_text_parts_and_bare_lists_and_writes_objects() -> None:
    fmt = get_format("openai")
    parts = [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]
    value = [{"role": "user", "content": parts}, {"role": "assistant", "content": "a"}]
    sample = fmt.parse(value)
    assert sample.messages[0].content == "Hello"
    assert fmt.dump(sample, LossLog()) == {
        "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "a"}]
    }


def test_openai_writes_arguments_as_json_strings() -> None:
    sample = Sample(
        [
            Message("user", "q"),
            Message("assistant", "", tool_calls=[ToolCall("f", {"城市": "北京"}, id="c1")]),
            Message("tool", "r", tool_call_id="c1"),
            Message("assistant", "a"),
        ]
    )
    out: Any = get_format("openai").dump(sample, LossLog())
    assert out["messages"][1]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"城市":"北京"}'}}
    ]


def test_swift_legacy_layout_reads_like_the_current_one() -> None:
    fmt = get_format("swift")
    legacy = fmt.parse({"system": "s", "query": "q2", "response": "a2", "history": [["q1", "a1"]]})
    assert fmt.dump(legacy, LossLog()) == {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2"},
        ]
    }


def test_swift_loss_flags_are_train_flags_on_answers() -> None:
    fmt = get_format("swift")
    rec = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "tool_call", "content": '{"name":"f","arguments":{}}', "loss": False},
            {"role": "tool_response", "content": "r"},
            {"role": "assistant", "content": "a", "loss": True},
        ]
    }
    sample = fmt.parse(rec)
    assert [m.train for m in sample.messages] == [None, False, None, True]
    assert fmt.dump(sample, LossLog()) == rec
    user_flag = Sample([Message("user", "q", train=True), Message("assistant", "a")])
    with pytest.raises(ConversionError, match="train flags"):
        fmt.dump(user_flag, LossLog())  # ms-swift reads loss on answers only
    with pytest.raises(FormatError, match="must be true or false"):
        fmt.parse({"messages": [{"role": "assistant", "content": "a", "loss": "no"}]})


def test_flat_refuses_a_turn_holding_the_end_marker() -> None:
    sample = Sample([Message("user", "what is </s>?"), Message("assistant", "a marker")])
    with pytest.raises(ConversionError) as exc:
        get_format("flat").dump(sample, LossLog(allow=True))
    assert exc.value.message == "format 'flat' cannot write a turn that contains '</s>'."


def test_trl_implicit_prompt() -> None:
    record = {
        "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "good"}],
        "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "bad"}],
    }
    sample = get_format("trl").parse(record)
    assert sample == Sample(
        [Message("user", "q"), Message("assistant", "good")], rejected=Message("assistant", "bad")
    )
    assert get_format("trl").dump(sample, LossLog()) == {
        "prompt": [{"role": "user", "content": "q"}],
        "chosen": [{"role": "assistant", "content": "good"}],
        "rejected": [{"role": "assistant", "content": "bad"}],
    }


def test_alpaca_split_falls_back_when_the_prompt_was_rewritten() -> None:
    fmt = get_format("alpaca")
    sample = fmt.parse({"instruction": "Translate", "input": "chat", "output": "cat"})
    sample.messages[0].content = "Translate: chat"  # an operator changed the turn
    out: Any = fmt.dump(sample, LossLog())
    assert (out["instruction"], out["input"]) == ("Translate: chat", "")


def test_xtuner_writes_system_in_the_first_round() -> None:
    sample = Sample(
        [
            Message("system", "s"),
            Message("user", "q"),
            Message("assistant", "a"),
            Message("user", "q2"),
            Message("assistant", "a2"),
        ]
    )
    assert get_format("xtuner").dump(sample, LossLog()) == {
        "conversation": [
            {"system": "s", "input": "q", "output": "a"},
            {"input": "q2", "output": "a2"},
        ]
    }


def test_public_names_are_pinned() -> None:
    assert sorted(formats_pkg.__all__) == sorted(
        [
            "FORMATS",
            "AlpacaFormat",
            "Capabilities",
            "ColumnMap",
            "DatasetEntry",
            "DatasetFeatures",
            "FastChatFormat",
            "FlatFormat",
            "Format",
            "LitGPTFormat",
            "LlamaFactoryV1Format",
            "LossLog",
            "MappedFormat",
            "OpenAIFormat",
            "PreferenceFormat",
            "ShareGPTFormat",
            "SwiftFormat",
            "TextFormat",
            "XTunerFormat",
            "dataset_info_entry",
            "detect_format",
            "format_from_entry",
            "get_format",
            "load_dataset_info",
            "propose_columns",
            "register_format",
        ]
    )
    for name in formats_pkg.__all__:
        assert hasattr(formats_pkg, name)


def test_docs_examples_run() -> None:
    from pathlib import Path

    doc = Path(__file__).parents[2] / "docs" / "formats.md"
    blocks = doc.read_text(encoding="utf-8").split("```python\n")[1:3]
    for block in blocks:
        exec(block.split("```")[0], {})


def test_sharegpt_reads_the_role_content_variant_without_tags() -> None:
    record = {
        "conversations": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "function_call", "content": '{"name": "f", "arguments": {}}'},
            {"role": "tool", "content": "r"},
            {"role": "assistant", "content": "a"},
        ]
    }
    sample = get_format("sharegpt").parse(record)
    assert [m.role for m in sample.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert sample.messages[2].tool_calls == [ToolCall("f", {})]


# Parquet rows carry every column of the file, null where a record had none
NULL_COLUMNS = [
    (
        "alpaca",
        {
            "instruction": "q",
            "input": None,
            "output": "a",
            "chosen": None,
            "rejected": None,
            "history": None,
            "system": None,
            "label": None,
            "images": None,
        },
    ),
    (
        "alpaca",
        {
            "instruction": "q",
            "input": "",
            "output": None,
            "chosen": "good",
            "rejected": "bad",
            "history": None,
        },
    ),
    (
        "sharegpt",
        {
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
            "chosen": None,
            "rejected": None,
            "tools": None,
            "system": None,
        },
    ),
    (
        "swift",
        {
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "query": None,
            "rejected_response": None,
        },
    ),
    ("trl", {"prompt": "q", "chosen": None, "rejected": None, "completion": "a", "label": True}),
    (
        "llamafactory_v1",
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "value": "q"}], "loss_weight": None},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "value": "a"}],
                    "loss_weight": None,
                },
            ],
            "chosen_messages": None,
        },
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "q", "tool_calls": None, "name": None},
                {"role": "assistant", "content": "a", "weight": None, "reasoning_content": None},
            ],
            "tools": None,
            "label": None,
        },
    ),
]


@pytest.mark.parametrize(("name", "row"), NULL_COLUMNS)
def test_null_columns_count_as_absent(name: str, row: dict[str, Any]) -> None:
    sample = get_format(name).parse(row)
    expected = {k: v for k, v in row.items() if v is not None}
    assert sample == get_format(name).parse(expected)


def test_missing_field_lists_only_keys_with_values() -> None:
    with pytest.raises(FormatError) as exc:
        get_format("alpaca").parse({"instruction": "q", "output": None, "input": None})
    assert exc.value.message == "missing required field 'output' (keys found: instruction)."


def test_openai_non_assistant_turn_needs_content() -> None:
    with pytest.raises(FormatError) as exc:
        get_format("openai").parse(
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}
        )
    assert exc.value.message == "'messages[0].content' must be a string, not null."


def test_tools_are_plain_definitions_and_openai_wraps_them() -> None:
    openai, sharegpt = get_format("openai"), get_format("sharegpt")
    sample = openai.parse(GOOD["openai"][0])
    assert sample.tools == TOOLS  # the {"type": "function", "function": ...} wrapper is off
    out: Any = openai.dump(sample, LossLog())
    assert out["tools"] == [{"type": "function", "function": TOOLS[0]}]
    assert orjson.loads(sharegpt.dump(sample, LossLog(allow=True))["tools"]) == TOOLS
