"""Every bad record gives one exact, one-line message naming the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from sftforge.errors import FormatError
from sftforge.formats import get_format

# (format, record, the full str() of the error); the io layer adds "file:line, " in front
BAD: list[tuple[str, Any, str]] = [
    (
        "alpaca",
        {"instruction": "q"},
        "field 'output': missing required field 'output' (keys found: instruction). Fix: add 'output' to every record, or pass --from with the record's real format (read as 'alpaca')",
    ),
    (
        "alpaca",
        {"question": "q", "answer": "a"},
        "field 'instruction': missing required field 'instruction' (keys found: question, answer). Fix: add 'instruction' to every record, or pass --from with the record's real format (read as 'alpaca')",
    ),
    (
        "alpaca",
        {"instruction": "q", "input": "", "output": ""},
        "field 'output': empty answer: 'output' is empty. Fix: drop the record or fill it in",
    ),
    (
        "alpaca",
        {"instruction": "q", "output": 3},
        "field 'output': 'output' must be a string, not a number. Fix: write it as a JSON string (in quotes)",
    ),
    (
        "alpaca",
        {"instruction": "q", "output": "a", "history": ""},
        "field 'history': 'history' must be a list of [user, assistant] pairs, not a string. Fix: use \"history\": [] for no history",
    ),
    (
        "alpaca",
        {"instruction": "q", "output": "a", "history": [["x"]]},
        "field 'history[0]': 'history[0]' must be a [user, assistant] pair of strings, not ['x'].",
    ),
    (
        "alpaca",
        {"instruction": "", "input": "", "output": "a"},
        "field 'instruction': empty prompt: 'instruction' is empty.",
    ),
    (
        "alpaca",
        {"instruction": "q", "output": "a", "label": "yes"},
        "field 'label': 'label' must be true or false, not 'yes'.",
    ),
    (
        "alpaca",
        {"instruction": "q", "output": "a", "images": [1]},
        "field 'images': 'images' must be a list of file paths (strings), not [1]. Fix: write it as \"images\": [\"path/to/file\", ...]",
    ),
    (
        "alpaca",
        ["not", "a", "dict"],
        "a record in the 'alpaca' format must be a JSON object, not a list. Fix: check that the file really is in the 'alpaca' format, or pass --from",
    ),
    (
        "alpaca",
        {"instruction": "q", "input": "", "chosen": "a", "rejected": 5},
        "field 'rejected': 'rejected' must be a string, not a number. Fix: write it as a JSON string (in quotes)",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "bot", "value": "x"}]},
        "field 'conversations[0].from': unknown role 'bot' in 'conversations[0].from' (valid: human, gpt, observation, function_call, system). Fix: pass the dataset's tags (dataset_info.json 'tags') if it uses other role names",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": None}]},
        "field 'conversations[0].value': 'conversations[0].value' must be a string, not null. Fix: write it as a JSON string (in quotes)",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": 1}]},
        "field 'conversations[0].value': 'conversations[0].value' must be a string, not a number. Fix: write it as a JSON string (in quotes)",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": " "}]},
        "field 'conversations': empty answer: no 'gpt' turn in 'conversations' has content. Fix: drop the record or add the answer",
    ),
    (
        "sharegpt",
        {"conversations": "hi"},
        "field 'conversations': 'conversations' must be a list of turns, not a string.",
    ),
    (
        "sharegpt",
        {"messages": []},
        "field 'conversations': missing required field 'conversations' (keys found: messages). Fix: add 'conversations' to every record, or pass --from with the record's real format (read as 'sharegpt')",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "q"}, {"speaker": "gpt", "value": "a"}]},
        "field 'conversations[1].from': 'conversations[1]' has no 'from' (keys found: speaker, value).",
    ),
    (
        "sharegpt",
        {
            "conversations": [
                {"from": "human", "value": "q"},
                {"from": "function_call", "value": "call weather"},
            ]
        },
        "field 'conversations[1].value': 'conversations[1].value' must be a JSON function call like {\"name\": ..., \"arguments\": {...}}, not plain text.",
    ),
    (
        "sharegpt",
        {
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
            "tools": "{not json",
        },
        "field 'tools': 'tools' is a string but not valid JSON. Fix: give the tools as a JSON list of function definitions",
    ),
    (
        "sharegpt",
        {
            "conversations": [{"from": "human", "value": "q"}],
            "chosen": {"from": "gpt", "value": "a"},
        },
        "field 'rejected': missing required field 'rejected' (keys found: conversations, chosen). Fix: add 'rejected' to every record, or pass --from with the record's real format (read as 'sharegpt')",
    ),
    (
        "sharegpt",
        {"conversations": ["q"]},
        "field 'conversations[0]': 'conversations[0]' must be an object with 'from' and 'value', not a string.",
    ),
    (
        "openai",
        {"messages": [{"role": "bot", "content": "x"}]},
        "field 'messages[0].role': unknown role 'bot' in 'messages[0].role' (valid: system, user, assistant, tool).",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": 5}]},
        "field 'messages[0].content': 'messages[0].content' must be a string, not a number. Fix: write it as a JSON string (in quotes)",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "q"}]},
        "field 'messages': empty answer: no assistant message has content. Fix: drop the record or add the answer",
    ),
    (
        "openai",
        {"messages": [{"content": "q"}]},
        "field 'messages[0].role': 'messages[0]' has no 'role' (keys found: content).",
    ),
    (
        "openai",
        {"msgs": []},
        "field 'messages': missing required field 'messages' (keys found: msgs). Fix: add 'messages' to every record, or pass --from with the record's real format (read as 'openai')",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}],
                },
            ]
        },
        "field 'messages[1].tool_calls[0].function.arguments': 'messages[1].tool_calls[0].function.arguments' must be a JSON object of arguments, not '{bad'.",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "image_url", "image_url": "x"}]},
            ]
        },
        "field 'messages[1].content': 'messages[1].content' has a content part of type 'image_url' that is not text: {'type': 'image_url', 'image_url': 'x'}. Fix: keep only text parts ({\"type\": \"text\", \"text\": ...}) in 'content'; images, audio and files go in the record's 'images'/'videos'/'audios' columns, or pass --on-error skip to leave such records out",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "weight": 0.5},
            ]
        },
        "field 'messages[1].weight': 'messages[1].weight' must be 0 or 1, not 0.5.",
    ),
    (
        "swift",
        {"messages": [{"role": "bot", "content": "x"}]},
        "field 'messages[0].role': unknown role 'bot' in 'messages[0].role' (valid: system, user, assistant, tool_call, tool_response, tool).",
    ),
    (
        "swift",
        {"query": "q", "response": "a", "history": ""},
        "field 'history': 'history' must be a list of [user, assistant] pairs, not a string. Fix: use \"history\": [] for no history",
    ),
    (
        "xtuner",
        {"conversation": [{"input": "q"}]},
        "field 'conversation[0].output': 'conversation[0]' has no 'output' (keys found: input).",
    ),
    (
        "xtuner",
        {
            "conversation": [
                {"input": "q", "output": "a"},
                {"system": "s", "input": "q", "output": "a"},
            ]
        },
        "field 'conversation[1].system': 'conversation[1].system': a system prompt is only supported in the first round. Fix: move it to conversation[0] or drop it",
    ),
    (
        "xtuner",
        {"conversation": []},
        "field 'conversation': 'conversation' is empty. Fix: drop the record",
    ),
    (
        "litgpt",
        {"instruction": "q", "input": "", "output": ""},
        "field 'output': empty answer: 'output' is empty. Fix: drop the record or fill it in",
    ),
    (
        "fastchat",
        {"id": "1", "conversations": [{"from": "system", "value": "s"}]},
        "field 'conversations[0].from': unknown role 'system' in 'conversations[0].from' (valid: human, gpt). Fix: pass the dataset's tags (dataset_info.json 'tags') if it uses other role names",
    ),
    (
        "flat",
        {"text": "User: hi</s>\n Bot: x</s>"},
        "field 'text': turn 2 of 'text' does not start with 'User: ' or 'Assistant: ': 'Bot: x'.",
    ),
    (
        "flat",
        {"text": "User: hi\n Assistant: x"},
        "field 'text': 'text' must end with '</s>' after the last turn.",
    ),
    ("flat", 5, 'a flat record must be a string or {"text": ...}, not a number.'),
    (
        "trl",
        {"prompt": "q", "chosen": "a"},
        "field 'rejected': missing required field 'rejected' (keys found: prompt, chosen). Fix: add 'rejected' to every record, or pass --from with the record's real format (read as 'trl')",
    ),
    (
        "trl",
        {"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"},
        "field 'chosen': 'chosen' must hold exactly one assistant turn (found: user).",
    ),
    (
        "trl",
        {"prompt": "q", "completion": "a", "label": "good"},
        "field 'label': 'label' must be true or false, not 'good'.",
    ),
    ("text", {"text": ""}, "field 'text': empty text: 'text' is empty. Fix: drop the record"),
    (
        "text",
        {"body": "x"},
        "field 'text': missing required field 'text' (keys found: body). Fix: add 'text' to every record, or pass --from with the record's real format (read as 'text')",
    ),
    (
        "text",
        {"text": 5},
        "field 'text': 'text' must be a string, not a number. Fix: write it as a JSON string (in quotes)",
    ),
]


@pytest.mark.parametrize(("name", "record", "message"), BAD)
def test_bad_record_gives_the_exact_message(name: str, record: Any, message: str) -> None:
    with pytest.raises(FormatError) as exc:
        get_format(name).parse(record)
    assert str(exc.value) == message
    assert "\n" not in str(exc.value)


def test_io_layer_adds_file_and_line_in_front() -> None:
    with pytest.raises(FormatError) as exc:
        get_format("alpaca").parse({"instruction": "q", "output": 3})
    err = exc.value
    err.file, err.line = "data.jsonl", 3
    assert str(err) == (
        "data.jsonl:3, field 'output': 'output' must be a string, not a number. "
        "Fix: write it as a JSON string (in quotes)"
    )
    assert err.reason == "'output' must be a string, not a number."
