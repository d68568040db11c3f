from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.profiles import Rejected, get_profile
from sftforge.chat.profiles.swift import swift_template
from sftforge.errors import TemplateError, TokenizeError
from sftforge.sample import Message, Sample, ToolCall

IGN = -100


def enc(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def conv(*pairs: tuple[str, str]) -> Sample:
    return Sample([Message(r, c) for r, c in pairs])  # type: ignore[arg-type]


def test_two_rounds_merge_pieces_and_train_turn_ends(tok: Any) -> None:
    s = conv(("system", "S"), ("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    out = get_profile("swift", tok, template="qwen").encode(s)
    p1 = enc(
        tok,
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n",
    )
    r1 = enc(tok, "b")
    p2 = enc(tok, "<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n")
    r2 = enc(tok, "d<|im_end|>\n")
    assert out.input_ids == p1 + r1 + p2 + r2
    end = enc(tok, "<|im_end|>\n")  # _add_dynamic_eos trains the first round's <|im_end|>\n
    expected = [IGN] * len(p1) + r1 + end + [IGN] * (len(p2) - len(end)) + r2
    assert out.labels == expected


def test_default_system_and_merged_user_turns(tok: Any) -> None:
    s = conv(("user", "a"), ("user", "b"), ("assistant", "c"))
    out = get_profile("swift", tok, template="qwen").encode(s)
    prompt = enc(
        tok,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n",
    )
    assert out.input_ids == prompt + enc(tok, "c<|im_end|>\n")
    chatml = get_profile("swift", tok, template="chatml").encode(s)  # no default system
    assert chatml.input_ids[: len(enc(tok, "<|im_start|>user\n"))] == enc(tok, "<|im_start|>user\n")


@pytest.mark.parametrize(("strategy", "length"), [("left", 5), ("right", 5)])
def test_truncation_strategies(tok: Any, strategy: str, length: int) -> None:
    s = conv(("user", "Hello world, how are you?"), ("assistant", "fine"))
    out = get_profile("swift", tok, max_length=5, truncation_strategy=strategy).encode(s)
    assert len(out.input_ids) == length
    (row,) = get_profile("swift", tok, max_length=5).encode_batch([s])
    assert isinstance(row, Rejected) and "deleted" in row.reason


WEATHER = {
    "name": "weather",
    "description": "天气",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def tool_conv(system: str | None = None) -> Sample:
    msgs = [Message("system", system)] if system is not None else []
    msgs += [
        Message("user", "北京天气?"),
        Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
        Message("tool", '{"t": 3}'),
        Message("assistant", "3 度"),
    ]
    return Sample(msgs, tools=[WEATHER])


HERMES_TOOLS = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "weather", "description": "天气", "parameters": '
    '{"type": "object", "properties": {"city": {"type": "string"}}}}}'
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


def test_hermes_tool_round_as_ms_swift_builds_it(tok: Any) -> None:
    out = get_profile("swift", tok, template="qwen").encode(tool_conv())
    system = "You are a helpful assistant." + HERMES_TOOLS
    p1 = enc(
        tok,
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n北京天气?<|im_end|>\n"
        "<|im_start|>assistant\n",
    )
    call = enc(tok, '<tool_call>\n{"name": "weather", "arguments": {"city": "北京"}}\n</tool_call>')
    # the result is the next round's query: chat_sep + the prompt around <tool_response>
    p2 = enc(
        tok,
        '<|im_end|>\n<|im_start|>user\n<tool_response>\n{"t": 3}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\n",
    )
    answer = enc(tok, "3 度<|im_end|>\n")
    assert out.input_ids == p1 + call + p2 + answer
    end = enc(tok, "<|im_end|>\n")  # trained after the call by _add_dynamic_eos
    assert out.labels == [IGN] * len(p1) + call + end + [IGN] * (len(p2) - len(end)) + answer


def test_react_en_keeps_the_call_as_text_and_leaves_the_system_out(tok: Any) -> None:
    out = get_profile("swift", tok, template="qwen", agent_template="react_en").encode(
        tool_conv("S")
    )
    text = tok.decode(out.input_ids)
    assert "Answer the following questions as best you can." in text
    assert "<|im_start|>system\nS" not in text  # ms-swift's ReAct prompt replaces the system
    call = "Action: weather\nAction Input: {'city': '北京'}\nObservation:"
    trained = tok.decode([t for t in out.labels if t != IGN])
    assert trained == call + "3 度<|im_end|>\n"
    assert call + '{"t": 3}\n3 度' in text  # the result right after, untrained, then the answer


def test_a_conversation_ending_with_a_query_is_encoded_up_to_its_prompt(tok: Any) -> None:
    s = conv(("user", "a"), ("assistant", "b"), ("user", "c"))
    out = get_profile("swift", tok, template="qwen3_nothinking").encode(s)
    p1 = enc(tok, "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n")
    rest = enc(tok, "<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n")
    end = enc(tok, "<|im_end|>\n")
    assert out.input_ids == p1 + enc(tok, "b") + rest
    # the <|im_end|>\n after the answer runs to the row's end masked: _add_dynamic_eos trains it
    assert out.labels == [IGN] * len(p1) + enc(tok, "b") + end + [IGN] * (len(rest) - len(end))


def test_a_conversation_starting_with_an_answer_gets_an_empty_query(tok: Any) -> None:
    s = conv(("assistant", "b"))
    out = get_profile("swift", tok, template="qwen3_nothinking").encode(s)
    assert out.input_ids == enc(
        tok, "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n"
    )


def test_loss_scale_base_strategies(tok: Any) -> None:
    s = conv(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    last = get_profile("swift", tok, template="qwen3_nothinking", loss_scale="last_round").encode(s)
    assert tok.decode([t for t in last.labels if t != IGN]) == "d<|im_end|>\n"
    every = get_profile("swift", tok, template="qwen3_nothinking", loss_scale="all").encode(s)
    assert every.labels == [IGN, *every.input_ids[1:]]
    assert s.messages[1].train is None
    s.messages[1].train = True  # ms-swift's loss: true trains it whatever the strategy
    flagged = get_profile("swift", tok, template="qwen3_nothinking", loss_scale="last_round")
    assert "b" in tok.decode([t for t in flagged.encode(s).labels if t != IGN])


def test_tools_without_an_agent_template_are_rejected_and_options_checked(tok: Any) -> None:
    (row,) = get_profile("swift", tok, template="chatml").encode_batch([tool_conv()])
    assert isinstance(row, Rejected) and "agent template" in row.reason
    ok = get_profile("swift", tok, template="chatml", agent_template="hermes").encode(tool_conv())
    assert ok.trained_tokens > 0
    with pytest.raises(TemplateError, match="unknown ms-swift template"):
        get_profile("swift", tok, template="nope")
    with pytest.raises(TokenizeError, match="agent_template 'glm4' is not reproduced"):
        get_profile("swift", tok, agent_template="glm4")
    with pytest.raises(TokenizeError, match="loss_scale 'hermes' is not reproduced"):
        get_profile("swift", tok, loss_scale="hermes")
    with pytest.raises(TokenizeError, match="unknown swift option"):
        get_profile("swift", tok, mask_history=True)


def test_out_of_order_turns_are_rejected_with_the_reason(tok: Any) -> None:
    call = Message("assistant", "", tool_calls=[ToolCall("weather", {})])
    s = Sample([Message("user", "a"), call, Message("tool", "r"), Message("user", "b")])
    s2 = conv(("user", "a"), ("system", "late"), ("assistant", "b"))
    rows = get_profile("swift", tok, template="qwen").encode_batch([s, s2])
    assert [isinstance(r, Rejected) for r in rows] == [True, True]
    assert "order" in rows[0].reason and "system turn" in rows[1].reason  # type: ignore[union-attr]


def test_template_decision_matches_the_tokenizer_or_warns(make_tokenizer: Any) -> None:
    tok = make_tokenizer()  # plain ChatML, no default system
    assert swift_template(tok, None) == ("qwen3_nothinking", None)
    qwen25 = (
        "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen, created by "
        "Alibaba Cloud. You are a helpful assistant.<|im_end|>\n{% endif %}" + tok.chat_template
    )
    tok.chat_template = qwen25
    assert swift_template(tok, None) == ("qwen2_5", None)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    name, note = swift_template(tok, None)
    assert name == "qwen" and note is not None and "--template tokenizer" in note
    assert swift_template(tok, "chatml") == ("chatml", None)
    # the profile without a template encodes with the decided type
    s = conv(("user", "a"), ("assistant", "b"))
    tok.chat_template = qwen25
    assert get_profile("swift", tok).encode(s) == get_profile(
        "swift", tok, template="qwen2_5"
    ).encode(s)
