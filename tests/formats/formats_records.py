"""Fixture records for every format: small literals that exercise each format's features."""

from __future__ import annotations

from typing import Any

import orjson

TOOLS = [
    {
        "name": "weather",
        "description": "查询天气",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]

# format name -> records written the way that format's own tools write them
GOOD: dict[str, list[Any]] = {
    "alpaca": [
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "你好", "input": "", "output": "你好！有什么可以帮你？"},
        {"instruction": "", "input": "只有输入", "output": "好的"},
        {
            "instruction": "And now?",
            "input": "",
            "output": "Still fine.",
            "system": "You are terse.",
            "history": [["How are you?", "Fine."], ["Sure?", "Yes."]],
        },
        {"instruction": "Pick one.", "input": "", "chosen": "A", "rejected": "B"},
        {"instruction": "Rate it", "input": "", "output": "5/5", "label": False},
        {"instruction": "<image>What is it?", "input": "", "output": "A cat.", "images": ["a.jpg"]},
        {"id": "row-7", "instruction": "Hi", "input": "", "output": "Hello"},
    ],
    "sharegpt": [
        {
            "conversations": [
                {"from": "human", "value": "天气怎么样？"},
                {
                    "from": "function_call",
                    "value": '{"name":"weather","arguments":{"city":"北京"}}',
                },
                {"from": "observation", "value": '{"temp": 3}'},
                {"from": "gpt", "value": "北京 3 度。"},
            ],
            "tools": orjson.dumps(TOOLS).decode(),
        },
        {
            "conversations": [
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello!"},
                {"from": "human", "value": "Bye"},
                {"from": "gpt", "value": "Bye!"},
            ],
            "system": "Be polite.",
        },
        {
            "conversations": [{"from": "human", "value": "Which is better?"}],
            "chosen": {"from": "gpt", "value": "This one."},
            "rejected": {"from": "gpt", "value": "No idea."},
        },
        {
            "conversations": [
                {"from": "human", "value": "<image><video><audio>Describe."},
                {"from": "gpt", "value": "Many things."},
            ],
            "images": ["1.jpg"],
            "videos": ["2.mp4"],
            "audios": ["3.mp3"],
        },
        {
            "conversations": [
                {"from": "human", "value": "Two calls"},
                {
                    "from": "function_call",
                    "value": '[{"name":"a","arguments":{}},{"name":"b","arguments":{"x":1}}]',
                },
                {"from": "observation", "value": "ra"},
                {"from": "observation", "value": "rb"},
                {"from": "gpt", "value": "done"},
            ],
            "label": True,
        },
    ],
    "openai": [
        {
            "messages": [
                {"role": "system", "content": "你是助手"},
                {"role": "user", "content": "北京天气？"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"北京"}'},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "content": '{"temp":3}',
                    "tool_call_id": "call_1",
                    "name": "weather",
                },
                {
                    "role": "assistant",
                    "content": "3 度",
                    "reasoning_content": "看工具结果",
                    "weight": 1,
                },
            ],
            "tools": [{"type": "function", "function": TOOLS[0]}],
        },
        [{"role": "user", "content": "bare list"}, {"role": "assistant", "content": "ok"}],
        {
            "id": "m-1",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hey", "weight": 0},
                {"role": "user", "content": "Again"},
                {"role": "assistant", "content": "Hey again"},
            ],
            "label": True,
        },
        {
            "messages": [
                {"role": "user", "content": "<image>What?"},
                {"role": "assistant", "content": "A dog."},
            ],
            "images": ["dog.png"],
        },
    ],
    "swift": [
        {
            "tools": orjson.dumps(TOOLS).decode(),
            "messages": [
                {"role": "user", "content": "上海天气"},
                {"role": "tool_call", "content": '{"name":"weather","arguments":{"city":"上海"}}'},
                {"role": "tool_call", "content": '{"name":"weather","arguments":{"city":"杭州"}}'},
                {"role": "tool_response", "content": "5"},
                {"role": "tool_response", "content": "7"},
                {"role": "assistant", "content": "上海 5 度，杭州 7 度"},
            ],
        },
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "good"},
            ],
            "rejected_response": "bad",
        },
        {
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "label": False,
        },
        {"system": "legacy", "query": "q2", "response": "a2", "history": [["q1", "a1"]]},
    ],
    "xtuner": [
        {"conversation": [{"system": "你是助手", "input": "你好", "output": "你好！"}]},
        {"conversation": [{"input": "a", "output": "b"}, {"input": "c", "output": "d"}]},
    ],
    "litgpt": [
        {"instruction": "Add", "input": "1 + 1", "output": "2"},
        {"instruction": "Say hi", "input": "", "output": "hi"},
    ],
    "fastchat": [
        {
            "id": "identity_0",
            "conversations": [
                {"from": "human", "value": "Who are you?"},
                {"from": "gpt", "value": "I am Vicuna."},
                {"from": "human", "value": "谢谢"},
                {"from": "gpt", "value": "不客气"},
            ],
        },
    ],
    "flat": [
        {"text": "User: hi</s>\n Assistant: hello</s>"},
        {"text": "User: 两行\n内容</s>\n Assistant: 好</s>\n User: again</s>\n Assistant: ok</s>"},
    ],
    "trl": [
        {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
        {
            "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
            "chosen": [{"role": "assistant", "content": "good"}],
            "rejected": [{"role": "assistant", "content": "bad"}],
        },
        {"prompt": "Is it?", "completion": "Yes", "label": True},
    ],
    "llamafactory_v1": [
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "value": "你会用工具"}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "value": "img/1.jpg"},
                        {"type": "text", "value": "这是哪里？"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "reasoning", "value": "先查一下"},
                        {"type": "tool_call", "value": '{"name":"where","arguments":{"q":"1"}}'},
                    ],
                },
                {"role": "tool", "content": [{"type": "text", "value": "北京"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "value": "北京。"}],
                    "loss_weight": 0.0,
                },
            ],
            "tools": orjson.dumps(TOOLS).decode(),
        },
        {
            "chosen_messages": [
                {"role": "user", "content": [{"type": "text", "value": "q"}]},
                {"role": "assistant", "content": [{"type": "text", "value": "good"}]},
            ],
            "rejected_messages": [
                {"role": "user", "content": [{"type": "text", "value": "q"}]},
                {"role": "assistant", "content": [{"type": "text", "value": "bad"}]},
            ],
        },
    ],
    "text": [
        {"text": "A plain document about 中文."},
        {"text": "With fields", "url": "http://x", "timestamp": "2020"},
        {"id": "doc-1", "text": "kept id"},
    ],
}
