"""The ``swift`` profile with a tokenizer's chat template: ms-swift 4.6's ``jinja`` backend.

Pinned on the tiny ChatML tokenizer and templates written here; the same behaviour is compared
with ms-swift's own ``Template.encode`` in test_profiles_oracle.py (slow, needs ms-swift).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sftforge.chat.profiles import Encoded, Rejected, get_profile
from sftforge.cli.main import main
from sftforge.errors import TemplateError, TokenizeError
from sftforge.sample import Message, Sample, ToolCall

IGN = -100

# a Qwen2.5-shaped template: its own default system, tools listed with tojson, tool results folded
# into one user turn, and assistant tool_calls written by the template (which ms-swift never uses:
# it hands the calls over as text)
QWENISH = (
    "{%- if messages[0].role == 'system' %}{%- set sys = messages[0].content %}"
    "{%- else %}{%- set sys = 'Default 系统.' %}{%- endif %}"
    "{{- '<|im_start|>system\\n' + sys }}"
    "{%- if tools %}{{- '\\n<tools>' }}{%- for t in tools %}{{- '\\n' + t | tojson }}"
    "{%- endfor %}{{- '\\n</tools>' }}{%- endif %}{{- '<|im_end|>\\n' }}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' or (m.role == 'assistant' and not m.tool_calls) %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|im_start|>assistant\\nTEMPLATE_CALLS<|im_end|>\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{%- if messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}"
    "{%- endif %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def jinja(tok: Any, **options: Any) -> Any:
    return get_profile("swift", tok, chat_template=QWENISH, **options)


def render(tok: Any, messages: list[dict[str, Any]], gen: bool, **kw: Any) -> list[int]:
    text = tok.apply_chat_template(
        messages, chat_template=QWENISH, tokenize=False, add_generation_prompt=gen, **kw
    )
    return list(tok.encode(text, add_special_tokens=False))


def test_one_context_every_token_trained_but_the_first(tok: Any) -> None:
    s = Sample(
        [
            Message("system", "你是助手"),
            Message("user", "今天天气"),
            Message("assistant", "很好"),
            Message("user", "Hello world"),
            Message("assistant", "I am fine."),
        ]
    )
    out = jinja(tok).encode(s)
    ids = render(tok, [{"role": m.role, "content": m.content} for m in s.messages], False)
    assert out.input_ids == ids
    assert out.labels == [IGN, *ids[1:]]  # the prompts are trained too
    assert out.attention_mask == [1] * len(ids)


def test_default_system_comes_from_the_ms_swift_template_type(tok: Any) -> None:
    s = Sample([Message("user", "你好"), Message("assistant", "Hello")])
    turns = [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "Hello"}]
    # qwen3_nothinking (the default) has none: the chat template's own default applies
    assert jinja(tok).encode(s).input_ids == render(tok, turns, False)
    assert "Default 系统." in tok.decode(jinja(tok).encode(s).input_ids)
    qwen = [{"role": "system", "content": "You are a helpful assistant."}, *turns]
    assert jinja(tok, swift_template="qwen").encode(s).input_ids == render(tok, qwen, False)
    own = [{"role": "system", "content": "自定义"}, *turns]
    got = jinja(tok, swift_template="qwen", default_system="自定义").encode(s)
    assert got.input_ids == render(tok, own, False)
    # an empty system prompt is a system prompt (ms-swift tests ``is not None``)
    empty = Sample([Message("system", ""), *s.messages])
    expected = render(tok, [{"role": "system", "content": ""}, *turns], False)
    assert jinja(tok, swift_template="qwen").encode(empty).input_ids == expected


def test_a_conversation_ending_with_a_user_turn_gets_the_generation_prompt(tok: Any) -> None:
    s = Sample([Message("user", "a"), Message("assistant", "b"), Message("user", "c")])
    out = jinja(tok).encode(s)
    ids = render(tok, [{"role": m.role, "content": m.content} for m in s.messages], True)
    assert out.input_ids == ids and out.labels == [IGN, *ids[1:]]
    assert tok.decode(ids).endswith("<|im_start|>assistant\n")


def test_tool_calls_are_hermes_text_and_results_follow_the_calls(tok: Any) -> None:
    tool = {"name": "weather", "parameters": {"type": "object", "properties": {"city": None}}}
    s = Sample(
        [
            Message("user", "北京和上海?"),
            Message(
                "assistant",
                "查一下",
                tool_calls=[ToolCall("weather", {"city": "北京"}, "a"), ToolCall("w2", {}, "b")],
            ),
            Message("tool", "r-b", tool_call_id="b"),
            Message("tool", "r-a", tool_call_id="a"),
            Message("assistant", "晴"),
        ],
        tools=[tool],
    )
    out = jinja(tok).encode(s)
    calls = (
        '<tool_call>\n{"name": "weather", "arguments": {"city": "北京"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "w2", "arguments": {}}\n</tool_call>'
    )
    messages = [
        {"role": "user", "content": "北京和上海?"},
        {"role": "assistant", "content": "查一下" + calls},
        {"role": "tool", "content": "r-a", "tool_call_id": "a"},
        {"role": "tool", "content": "r-b", "tool_call_id": "b"},
        {"role": "assistant", "content": "晴"},
    ]
    # the schema's null (Arrow padding) is dropped, the tool wrapped as OpenAI's
    wrapped = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}]  # fmt: skip
    assert out.input_ids == render(tok, messages, False, tools=wrapped)
    text = tok.decode(out.input_ids)
    assert "TEMPLATE_CALLS" not in text and text.index("r-a") < text.index("r-b")


def test_consecutive_turns_are_joined_and_reasoning_is_inline(tok: Any) -> None:
    s = Sample(
        [
            Message("user", "a"),
            Message("user", "b"),
            Message("assistant", "c", reasoning="think"),
            Message("assistant", "d"),
        ]
    )
    messages = [
        {"role": "user", "content": "ab"},
        {"role": "assistant", "content": "<think>\nthink\n</think>\n\ncd"},
    ]
    assert jinja(tok).encode(s).input_ids == render(tok, messages, False)


def test_per_turn_loss_flags_are_not_read(tok: Any) -> None:
    s = Sample([Message("user", "a"), Message("assistant", "b", train=False)])
    out = jinja(tok).encode(s)
    assert out.labels == [IGN, *out.input_ids[1:]]


def test_truncation_strategies(tok: Any) -> None:
    s = Sample([Message("user", "Hello world, how are you?"), Message("assistant", "fine")])
    full = jinja(tok).encode(s)
    assert len(full.input_ids) > 6
    for strategy, sl in (("left", slice(-6, None)), ("right", slice(None, 6))):
        got = get_profile(
            "swift", tok, chat_template=QWENISH, max_length=6, truncation_strategy=strategy
        ).encode(s)
        # ms-swift's _truncate masks the kept row's first token as well
        assert (got.input_ids, got.labels) == (full.input_ids[sl], [IGN, *full.labels[sl][1:]])
    (row,) = get_profile("swift", tok, chat_template=QWENISH, max_length=6).encode_batch([s])
    assert isinstance(row, Rejected) and "deleted" in row.reason


def test_refusals_are_rows_or_errors_never_silent(tok: Any) -> None:
    s = Sample([Message("user", "a"), Message("assistant", "b")], tools=[{"name": "f"}])
    (row,) = jinja(tok, swift_template="chatml").encode_batch([s])  # chatml: no agent template
    assert isinstance(row, Rejected) and "agent template" in row.reason
    raising = "{{ raise_exception('no system here') }}"
    (row,) = get_profile("swift", tok, chat_template=raising).encode_batch([s])
    assert isinstance(row, Rejected) and "no system here" in row.reason
    with pytest.raises(TemplateError, match="unknown ms-swift template type 'nope'"):
        jinja(tok, swift_template="nope")
    with pytest.raises(TokenizeError, match="is for the jinja backend"):
        get_profile("swift", tok, template="qwen", swift_template="qwen")
    with pytest.raises(TokenizeError, match="both given"):
        get_profile("swift", tok, template="qwen", chat_template=QWENISH)


def test_template_tokenizer_and_a_jinja_file(tok: Any, tmp_path: Path) -> None:
    s = Sample([Message("user", "你好"), Message("assistant", "Hello world")])
    own = get_profile("swift", tok, template="tokenizer").encode(s)
    backend = get_profile("swift", tok, template_backend="jinja").encode(s)
    given = get_profile("swift", tok, chat_template=tok.chat_template).encode(s)
    assert own.input_ids == backend.input_ids == given.input_ids
    assert own.labels == [IGN, *own.input_ids[1:]]
    path = tmp_path / "qwenish.jinja"
    path.write_text(QWENISH, encoding="utf-8")
    from_file = get_profile("swift", tok, template=str(path)).encode(s)
    assert from_file.input_ids == jinja(tok).encode(s).input_ids != own.input_ids


def test_cli_tokenize_profile_swift_template_tokenizer(
    tmp_path: Path, tok: Any, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = [
        Sample([Message("user", "你好"), Message("assistant", "Hello")]),
        Sample([Message("user", "a"), Message("assistant", "b"), Message("user", "c")]),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(s.to_json().decode() + "\n" for s in samples), encoding="utf-8")
    out = tmp_path / "train.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(tok_dir), "--profile", "swift"]
    assert main([*args, "--template", "tokenizer"]) == 0
    rows = pq.read_table(out).to_pylist()
    expected = get_profile("swift", tok, template="tokenizer").encode_batch(samples)
    assert all(isinstance(e, Encoded) for e in expected)
    assert [(r["input_ids"], r["labels"]) for r in rows] == [
        (e.input_ids, e.labels) for e in expected if isinstance(e, Encoded)
    ]
    assert "2 samples: 2 written" in capsys.readouterr().out
