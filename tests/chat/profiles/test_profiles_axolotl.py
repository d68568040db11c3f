"""The axolotl profile against axolotl 0.19's ``chat_template`` strategy, on hand-computed ids of
the tiny ChatML tokenizer (the slow test in tests/export runs axolotl itself)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sftforge.chat.profiles import Rejected, get_profile
from sftforge.chat.profiles.axolotl import AxolotlProfile, axolotl_record
from sftforge.chat.profiles.axolotl_vars import template_message_vars
from sftforge.errors import TokenizeError
from sftforge.formats import LossLog
from sftforge.sample import Message, Sample, ToolCall

IGN = -100


def enc(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def trained(labels: list[int]) -> list[int]:
    return [t for t in labels if t != IGN]


def test_assistant_turns_and_their_eos_are_trained(tok: Any) -> None:
    s = Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "q"),
            Message("assistant", "4"),
        ]
    )
    out = get_profile("axolotl", tok).encode(s)
    p1 = enc(tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    p2 = enc(tok, "\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n")
    eos = tok.eos_token_id
    a1, a2, nl = enc(tok, "Hello"), enc(tok, "4"), enc(tok, "\n")
    assert out.input_ids == p1 + a1 + [eos] + p2 + a2 + [eos] + nl
    assert out.labels == [IGN] * len(p1) + a1 + [eos] + [IGN] * len(p2) + a2 + [eos] + [IGN] * len(
        nl
    )


# answers whose first or last character is the first or last of axolotl's older single
# "[[dummy_message]]" placeholder: the older turn finding lost that token (13 of 655 rows of a
# real Chinese set); today's two placeholders find the whole answer
BRACKETED = [
    "[1, 2] is a list",
    "the answer is [4]",
    "[4]",
    "[答案] 是四",
    "今天天气很好 [北京]",
    "[北京]",
]


@pytest.mark.parametrize("answer", BRACKETED)
def test_answers_starting_with_or_ending_in_brackets_are_trained_whole(
    tok: Any, answer: str
) -> None:
    s = Sample([Message("user", "你好"), Message("assistant", answer)])
    out = get_profile("axolotl", tok).encode(s)
    assert trained(out.labels) == [*enc(tok, answer), tok.eos_token_id]


@pytest.mark.parametrize("answer", ["[答案] 是四", "the answer is [4]"])
def test_the_token_fallback_is_axolotls_older_method(
    tok: Any, answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without a text locator (a slow tokenizer, or a render that does not re-tokenize to the same
    # ids) axolotl diffs the ids of the conversation up to the turn against one with
    # "[[dummy_message]]": a bracket at the answer's edge is then left out, as axolotl leaves it
    monkeypatch.setattr(AxolotlProfile, "_locator", lambda self, *a: None)
    s = Sample([Message("user", "你好"), Message("assistant", answer)])
    got = trained(get_profile("axolotl", tok).encode(s).labels)
    whole = enc(tok, answer)
    assert got != [*whole, tok.eos_token_id]
    assert len(got) == len(whole)  # one bracket token short, plus the EOS


def test_the_fallback_agrees_on_plain_answers(tok: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello"), Message("user", "q"),
                Message("assistant", "4")])  # fmt: skip
    text_way = get_profile("axolotl", tok).encode(s)
    monkeypatch.setattr(AxolotlProfile, "_locator", lambda self, *a: None)
    token_way = get_profile("axolotl", tok).encode(s)
    assert (text_way.input_ids, text_way.labels) == (token_way.input_ids, token_way.labels)


def test_training_flag_and_train_on_eos_none(tok: Any) -> None:
    s = Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello", train=False),
            Message("user", "q"),
            Message("assistant", "4"),
        ]
    )
    out = get_profile("axolotl", tok, train_on_eos="none").encode(s)
    assert trained(out.labels) == enc(tok, "4")


def test_train_on_eos_last_counts_only_the_turns_axolotl_looks_at(tok: Any) -> None:
    # axolotl skips a turn it does not train (unless train_on_eos is "all"), so "last" is the EOS
    # of the last *trained* turn, not of the conversation's last turn
    s = Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "q"),
            Message("assistant", "4", train=False),
        ]
    )
    out = get_profile("axolotl", tok, train_on_eos="last").encode(s)
    assert trained(out.labels) == [*enc(tok, "Hello"), tok.eos_token_id]
    every = get_profile("axolotl", tok, train_on_eos="all").encode(s)
    eos = tok.eos_token_id
    assert trained(every.labels) == [eos, *enc(tok, "Hello"), eos, eos, eos]


def test_roles_to_train_user_and_sequence_len(tok: Any) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    out = get_profile("axolotl", tok, roles_to_train=["user", "assistant"]).encode(s)
    assert trained(out.labels) == [
        *enc(tok, "Hi"),
        tok.eos_token_id,
        *enc(tok, "Hello"),
        tok.eos_token_id,
    ]
    (row,) = get_profile("axolotl", tok, max_length=5).encode_batch([s])
    assert isinstance(row, Rejected) and "sequence_len" in row.reason


def test_roles_to_train_takes_axolotls_role_aliases(tok: Any) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    gpt = get_profile("axolotl", tok, roles_to_train=["gpt"]).encode(s)
    assert trained(gpt.labels) == [*enc(tok, "Hello"), tok.eos_token_id]


def test_a_row_with_nothing_to_train_is_dropped_as_axolotl_drops_it(tok: Any) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    (row,) = get_profile("axolotl", tok, roles_to_train=["tool"]).encode_batch([s])
    assert isinstance(row, Rejected) and "no trainable tokens" in row.reason


def test_train_on_inputs_trains_every_turn(tok: Any) -> None:
    s = Sample([Message("system", "S"), Message("user", "Hi"), Message("assistant", "Hello")])
    out = get_profile("axolotl", tok, train_on_inputs=True).encode(s)
    eos = tok.eos_token_id
    assert trained(out.labels) == [*enc(tok, "S"), eos, *enc(tok, "Hi"), eos,
                                   *enc(tok, "Hello"), eos]  # fmt: skip


def test_legacy_mode_masks_the_prompt_only(tok: Any) -> None:
    # no roles_to_train, no EOS/EOT training, no training field: axolotl's older prompt/answer
    # split (the prompt rendered with the generation prompt)
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    out = get_profile(
        "axolotl", tok, roles_to_train=[], train_on_eos=None, message_field_training=None
    ).encode(s)
    prompt = enc(tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert out.input_ids[: len(prompt)] == prompt
    assert out.labels == [IGN] * len(prompt) + out.input_ids[len(prompt) :]


def test_eot_tokens(tok: Any) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    same = get_profile("axolotl", tok, eot_tokens=["<|im_end|>"]).encode(s)
    assert trained(same.labels) == [*enc(tok, "Hello"), tok.eos_token_id]
    with pytest.raises(TokenizeError, match="several tokens"):
        get_profile("axolotl", tok, eot_tokens=["im_start"], chat_template=_with("im_start"))
    with pytest.raises(TokenizeError, match="train_on_eos and train_on_eot"):
        get_profile("axolotl", tok, eot_tokens=["<|im_end|>", "<|im_start|>"], train_on_eot="all")


def _with(extra: str) -> str:
    from tiny_chatml import CHATML

    return CHATML + "{# " + extra + " #}"


def test_tool_calls_and_tools_reach_the_template(make_tokenizer: Any) -> None:
    tok = make_tokenizer()
    tok.chat_template = (
        "{% if tools %}<|im_start|>system\n{{ tools | tojson }}<|im_end|>\n{% endif %}"
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
        "{% for c in m.tool_calls or [] %}<call>{{ c.function.arguments | tojson }}{% endfor %}"
        "<|im_end|>\n{% endfor %}"
    )
    tools = [{"name": "weather", "parameters": {"type": "object", "properties": {"城市": {}}}}]
    s = Sample(
        [
            Message("user", "北京天气"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"城市": "北京", "a": 1})]),
            Message("tool", "晴"),
            Message("assistant", "[晴]"),
        ],
        tools=tools,
    )
    out = get_profile("axolotl", tok).encode(s)
    text = tok.decode(out.input_ids)
    # the loop variable is "m", so only the export's mapping brings tool_calls to the template;
    # arguments are parsed from the JSON string as axolotl does, keys in their order
    assert '<call>{"城市": "北京", "a": 1}' in text
    assert '"parameters": {"type": "object", "properties": {"城市": {}}}' in text
    assert tok.decode(trained(out.labels)).endswith("[晴]<|im_end|>")


def test_the_record_carries_tools_as_a_json_string() -> None:
    tools = [{"name": "f", "parameters": {"b": 1, "a": 2}}]
    s = Sample([Message("user", "q"), Message("assistant", "a")], tools=tools)
    record = axolotl_record(s, LossLog())
    assert isinstance(record["tools"], str)
    assert json.loads(record["tools"]) == [{"type": "function", "function": tools[0]}]
    assert list(json.loads(record["tools"])[0]["function"]["parameters"]) == ["b", "a"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% for message in messages %}{{ message.tool_calls }}{{ message['name'] }}{% endfor %}",
         {"tool_calls", "name"}),
        # axolotl looks only at a variable called "message"
        ("{% for m in messages %}{{ m.tool_calls }}{% endfor %}", set()),
        ("{{ messages[0]['role'] }}", set()),
        # every attribute down a chain counts
        ("{% for message in messages %}{{ message.tool_calls[0].function }}{% endfor %}",
         {"tool_calls", "function"}),
        ("{% if message is defined and message.reasoning_content is defined %}{% endif %}",
         {"reasoning_content"}),
        ("{% generation %}{{ message.content }}{% endgeneration %}", {"content"}),
    ],
)  # fmt: skip
def test_template_message_vars(template: str, expected: set[str]) -> None:
    assert template_message_vars(template) == expected


@pytest.mark.parametrize("bad", [{"nope": 1}])
def test_unknown_option(tok: Any, bad: dict[str, Any]) -> None:
    with pytest.raises(TokenizeError, match="unknown axolotl option"):
        get_profile("axolotl", tok, **bad)
