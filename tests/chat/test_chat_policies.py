"""Per-turn policies, reasoning, template choice and rendering safety."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS, hf_messages

from sftforge.chat import ChatTokenizer, get_template, render, resolve_template
from sftforge.chat.templates import ChatTemplate
from sftforge.errors import TemplateError, TokenizeError
from sftforge.sample import Message, Sample


def trained_text(chat: ChatTokenizer, sample: Sample) -> list[str]:
    """The decoded trained stretches, in order."""
    row = chat.tokenize(sample)
    out: list[str] = []
    run: list[int] = []
    for tok, lab in [*zip(row.input_ids, row.labels, strict=True), (None, -100)]:
        if lab != -100:
            run.append(tok)  # type: ignore[arg-type]
        elif run:
            out.append(chat.tokenizer.decode(run, skip_special_tokens=False))
            run = []
    return out


def with_flags(sample: Sample, flags: list[bool | None]) -> Sample:
    it = iter(flags)
    msgs = [replace(m, train=next(it)) if m.role == "assistant" else m for m in sample.messages]
    return replace(sample, messages=msgs)


@pytest.mark.parametrize(
    ("train_on", "flags", "expected"),
    [
        (
            "all",
            [None, None, None],
            ["你好！今天天气很好。", "Jumps over the lazy dog.", "好的，我们走吧。"],
        ),
        ("last", [None, None, None], ["好的，我们走吧。"]),
        ("all", [None, False, None], ["你好！今天天气很好。", "好的，我们走吧。"]),
        ("last", [True, None, None], ["你好！今天天气很好。", "好的，我们走吧。"]),
        ("flags", [None, True, None], ["Jumps over the lazy dog."]),
        ("flags", [True, None, False], ["你好！今天天气很好。"]),
    ],
)
def test_train_on_policies(
    bpe_tok: Any, train_on: str, flags: list[bool | None], expected: list[str]
) -> None:
    chat = ChatTokenizer(bpe_tok, "chatml", train_on=train_on)  # type: ignore[arg-type]
    got = trained_text(chat, with_flags(CONVERSATIONS["multi_cjk"], flags))
    assert got == [e + "<|im_end|>" for e in expected]


def test_reasoning_dropped_matches_transformers(bpe_tok: Any) -> None:
    sample = CONVERSATIONS["reasoning"]
    chat = ChatTokenizer(bpe_tok, "chatml", reasoning=False)
    row = chat.tokenize(sample)
    ids = bpe_tok.apply_chat_template(
        hf_messages(sample, reasoning=False),
        chat_template=get_template("chatml").source,
        tokenize=True,
        return_dict=False,
    )
    assert row.input_ids == list(ids)
    assert trained_text(chat, sample) == ["The answer is 42.<|im_end|>"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("qwen3", ["<think>\n\n</think>\n\nI am fine, thank you.<|im_end|>"]),
        ("qwen3-nothink", ["I am fine, thank you.<|im_end|>"]),
    ],
)
def test_qwen3_empty_think_block_trained_only_when_thinking(
    bpe_tok: Any, template: str, expected: list[str]
) -> None:
    chat = ChatTokenizer(bpe_tok, template)
    assert trained_text(chat, CONVERSATIONS["single"]) == expected
    assert "<think>\n\n</think>\n\n" in chat.render(CONVERSATIONS["single"]).text


def test_qwen3_keeps_reasoning_only_after_last_query(bpe_tok: Any) -> None:
    sample = Sample(
        [
            Message("user", "Q1"),
            Message("assistant", "A1", reasoning="R1"),
            Message("user", "Q2"),
            Message("assistant", "A2", reasoning="R2"),
        ]
    )
    chat = ChatTokenizer(bpe_tok, "qwen3")
    assert trained_text(chat, sample) == [
        "A1<|im_end|>",
        "<think>\nR2\n</think>\n\nA2<|im_end|>",
    ]


def test_tool_calls_are_trained_and_tool_output_masked(bpe_tok: Any) -> None:
    chat = ChatTokenizer(bpe_tok, "qwen2.5")
    got = trained_text(chat, CONVERSATIONS["tools"])
    assert got == [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
        "It is 21 degrees and sunny in Paris.<|im_end|>",
    ]


def test_unknown_template_lists_valid_names() -> None:
    with pytest.raises(TemplateError) as err:
        get_template("llama9")
    assert str(err.value).startswith(
        "field 'template': unknown chat template 'llama9'. Fix: use one of: alpaca, chatglm3, chatml,"
    )


def test_tokenizer_own_template_is_used(bpe_tok: Any) -> None:
    bpe_tok.chat_template = get_template("chatml").source
    try:
        chosen = resolve_template(None, bpe_tok)
        assert chosen.name == "tokenizer"
        assert ChatTokenizer(bpe_tok).tokenize(CONVERSATIONS["single"]).input_ids == (
            ChatTokenizer(bpe_tok, "chatml").tokenize(CONVERSATIONS["single"]).input_ids
        )
    finally:
        bpe_tok.chat_template = None


def test_template_without_marks_finds_the_turns(bpe_tok: Any) -> None:
    plain = ChatTemplate("plain", "{% for m in messages %}{{ m.content }}{% endfor %}")
    chat = ChatTokenizer(bpe_tok, plain)
    rendered = chat.render(CONVERSATIONS["single"])
    assert [rendered.text[a:b] for a, b in rendered.spans] == ["I am fine, thank you."]


def test_unmarked_template_that_drops_an_answer_fails_that_sample(bpe_tok: Any) -> None:
    lossy = ChatTemplate(
        "lossy",
        "{% for m in messages %}{{ m.role }}:{% if m.role != 'assistant' %}{{ m.content }}"
        "{% endif %}\n{% endfor %}",
    )
    with pytest.raises(TokenizeError, match="is not inside the text the chat template renders"):
        ChatTokenizer(bpe_tok, lossy).tokenize(CONVERSATIONS["single"])


def test_per_turn_policy_needs_one_block_per_turn() -> None:
    one_block = ChatTemplate(
        "one",
        "{% generation %}{% for m in messages %}{{ m.content }}{% endfor %}{% endgeneration %}",
    )
    with pytest.raises(TemplateError, match="1 generation blocks for 3 assistant turns"):
        render(CONVERSATIONS["multi_cjk"], one_block, train_on="last")


def test_generation_inside_macro_and_set_block() -> None:
    src = (
        "{% macro turn(m) %}[{{ m.role }}]{% if m.role == 'assistant' %}{% generation %}"
        "{{ m.content }}.{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endmacro %}"
        "{% set body %}{% for m in messages %}{{ turn(m) }}{% endfor %}{% endset %}>>{{ body }}"
    )
    out = render(CONVERSATIONS["reasoning"], ChatTemplate("macro", src))
    assert out.text == ">>[user]What is six times seven?[assistant]The answer is 42.."
    assert [out.text[a:b] for a, b in out.spans] == ["The answer is 42.."]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{% generation %}x{% endgeneration %}",
        "{% set x = messages.append(1) %}{% generation %}x{% endgeneration %}",
    ],
)
def test_sandbox_blocks_escapes(source: str) -> None:
    with pytest.raises(TemplateError, match="failed"):
        render(CONVERSATIONS["single"], ChatTemplate("evil", source))


def test_raise_exception_becomes_template_error() -> None:
    with pytest.raises(TemplateError, match="llama2 has no tool turns"):
        render(
            CONVERSATIONS["tools"],
            get_template("llama2"),
            special_tokens={"bos_token": "<s>", "eos_token": "</s>"},
        )


def test_reserved_sentinel_characters_refused() -> None:
    bad = Sample([Message("user", "hi\ufdd0"), Message("assistant", "ok")])
    with pytest.raises(TemplateError, match="U\\+FDD0"):
        render(bad, get_template("chatml"))


@pytest.mark.parametrize(
    ("template", "bos_count"), [("llama2", 3), ("mistral", 1), ("llama3", 1), ("chatml", 0)]
)
def test_bos_only_where_the_template_writes_it(sp_tok: Any, template: str, bos_count: int) -> None:
    # this tokenizer's add_bos_token is true: it must still never add one of its own
    assert sp_tok.encode("x")[0] == sp_tok.bos_token_id
    row = ChatTokenizer(sp_tok, template).tokenize(CONVERSATIONS["multi_cjk"])
    assert row.input_ids.count(sp_tok.bos_token_id) == bos_count
    assert row.input_ids[:2] != [sp_tok.bos_token_id] * 2


@pytest.mark.parametrize(
    ("source", "text", "spans"),
    [
        ("a{% generation %}b{% endgeneration %}c", "abc", [(1, 2)]),
        (
            "{% generation %}x{% generation %}y{% endgeneration %}z{% endgeneration %}!",
            "xyz!",
            [(0, 3)],
        ),
        (
            "{% generation %}{% endgeneration %}q{% generation %}r{% endgeneration %}",
            "qr",
            [(0, 0), (1, 2)],
        ),
        ("plain", "plain", []),
    ],
)
def test_generation_spans(source: str, text: str, spans: list[tuple[int, int]]) -> None:
    from sftforge.chat.render import render_messages

    assert render_messages([], ChatTemplate("t", source)) == (text, spans)


def test_template_syntax_error_fails_at_once(bpe_tok: Any) -> None:
    broken = ChatTemplate("broken", "{% generation %}{% for m in messages %}")
    with pytest.raises(TemplateError, match="chat template syntax error at line 1"):
        ChatTokenizer(bpe_tok, broken)
