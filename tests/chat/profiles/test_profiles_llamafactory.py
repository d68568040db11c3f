from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, Rejected, get_profile
from sftforge.chat.profiles.llamafactory import align_lf_record, infer_seqlen, to_lf_record
from sftforge.errors import TemplateError, TokenizeError
from sftforge.sample import Message, Sample, ToolCall

IGN = -100


def enc(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def conv(*pairs: tuple[str, str]) -> Sample:
    return Sample([Message(r, c) for r, c in pairs])  # type: ignore[arg-type]


# LLaMA-Factory's own table (tests/data/processor/test_processor_utils.py)
@pytest.mark.parametrize(
    ("lens", "expected"),
    [
        ((3000, 2000, 1000), (600, 400)),
        ((2000, 3000, 1000), (400, 600)),
        ((1000, 100, 1000), (900, 100)),
        ((100, 1000, 1000), (100, 900)),
        ((100, 500, 1000), (100, 500)),
        ((500, 100, 1000), (500, 100)),
        ((10, 10, 1000), (10, 10)),
    ],
)
def test_infer_seqlen_matches_llamafactory_table(
    lens: tuple[int, int, int], expected: tuple[int, int]
) -> None:
    assert infer_seqlen(*lens) == expected


def test_qwen_template_segments_each_slot_and_masks_prompts(tok: Any) -> None:
    s = conv(
        ("system", "Be nice"),
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "2+2?"),
        ("assistant", "4"),
    )
    out = get_profile("llamafactory", tok, template="qwen").encode(s)
    p1 = enc(tok, "<|im_start|>system\nBe nice<|im_end|>\n") + enc(
        tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    a1 = enc(tok, "Hello<|im_end|>\n")
    p2 = enc(tok, "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
    a2 = enc(tok, "4<|im_end|>\n")
    assert out.input_ids == p1 + a1 + p2 + a2
    assert out.labels == [IGN] * len(p1) + a1 + [IGN] * len(p2) + a2
    assert out.attention_mask == [1] * len(out.input_ids)


def test_default_template_uses_eos_slots(tok: Any) -> None:
    out = get_profile("llamafactory", tok, template="default").encode(
        conv(("user", "Hi"), ("assistant", "Yo"))
    )
    eos = tok.eos_token_id
    prompt = [*enc(tok, "Human: Hi"), eos, *enc(tok, "\nAssistant:")]
    answer = [*enc(tok, "Yo"), eos, *enc(tok, "\n")]
    assert (out.input_ids, out.labels) == (prompt + answer, [IGN] * len(prompt) + answer)


def test_llama2_template_folds_system_into_first_user_turn(tok: Any) -> None:
    s = conv(("system", "S"), ("user", "Q"), ("assistant", "A"))
    out = get_profile("llamafactory", tok, template="llama2").encode(s)
    prompt = [tok.bos_token_id, *enc(tok, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]")]
    assert out.input_ids == prompt + enc(tok, "A") + [tok.eos_token_id]


def test_train_on_prompt_and_mask_history(tok: Any) -> None:
    s = conv(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    full = get_profile("llamafactory", tok, template="empty", train_on_prompt=True).encode(s)
    assert full.labels == full.input_ids
    last = get_profile("llamafactory", tok, template="empty", mask_history=True).encode(s)
    assert last.labels == [IGN] * 3 + enc(tok, "d")


def test_cutoff_len_shares_length_between_prompt_and_answer(tok: Any) -> None:
    s = conv(("user", "Hello world, how are you? " * 4), ("assistant", "I am fine. " * 4))
    out = get_profile("llamafactory", tok, template="empty", max_length=10).encode(s)
    src, tgt = len(enc(tok, "Hello world, how are you? " * 4)), len(enc(tok, "I am fine. " * 4))
    s_len, t_len = infer_seqlen(src, tgt, 10)
    assert len(out.input_ids) == s_len + t_len == 10


def test_efficient_eos_puts_eos_in_the_next_prompts_first_label(tok: Any) -> None:
    from copy import deepcopy

    glm_tok = deepcopy(tok)
    glm_tok.add_special_tokens(
        {
            "additional_special_tokens": [
                "[gMASK]",
                "sop",
                "<|user|>",
                "<|assistant|>",
                "<|system|>",
                "<|observation|>",
            ]
        }
    )
    s = conv(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    out = get_profile("llamafactory", glm_tok, template="chatglm3").encode(s)
    ids = glm_tok.convert_tokens_to_ids
    turn1 = [
        ids("[gMASK]"),
        ids("sop"),
        ids("<|user|>"),
        *enc(tok, "\n"),
        *enc(tok, "a"),
        ids("<|assistant|>"),
    ]
    ans1 = enc(tok, "\n") + enc(tok, "b")
    turn2 = [ids("<|user|>"), *enc(tok, "\n"), *enc(tok, "c"), ids("<|assistant|>")]
    ans2 = enc(tok, "\n") + enc(tok, "d")
    eos = glm_tok.eos_token_id
    assert out.input_ids == turn1 + ans1 + turn2 + ans2 + [eos]
    assert out.labels == [IGN] * len(turn1) + ans1 + [eos] + [IGN] * (len(turn2) - 1) + ans2 + [eos]


def test_template_needing_missing_tokens_is_refused(tok: Any) -> None:
    with pytest.raises(TemplateError, match=r"needs the token '\[gMASK\]'"):
        get_profile("llamafactory", tok, template="chatglm3")


def test_reasoning_template_adds_trained_empty_thought(tok: Any) -> None:
    out = get_profile("llamafactory", tok, template="qwen3").encode(
        conv(("user", "q"), ("assistant", "a"))
    )
    answer = enc(tok, "<think>\n\n</think>\n\n") + enc(tok, "a<|im_end|>\n")
    assert out.input_ids[-len(answer) :] == answer and out.labels[-len(answer) :] == answer


def test_tool_calls_and_results_use_the_qwen_tool_format(tok: Any) -> None:
    s = Sample(
        [
            Message("user", "weather?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ],
        tools=[{"name": "weather", "parameters": {"type": "object", "properties": {}}}],
    )
    out = get_profile("llamafactory", tok, template="qwen").encode(s)
    call = enc(
        tok,
        '<tool_call>\n{"name": "weather", "arguments": {"city": "北京"}}\n</tool_call><|im_end|>\n',
    )
    text = tok.decode(out.input_ids)
    assert "# Tools" in text and "<tool_response>\n3C\n</tool_response>" in text
    assert [t for t in out.labels if t != IGN] == call + enc(tok, "3 度<|im_end|>\n")


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([("user", "a")], "does not end with an assistant turn"),
        ([("user", "a"), ("user", "b"), ("assistant", "c")], "roles do not alternate"),
        (
            [("user", "a"), ("assistant", "b"), ("system", "c"), ("user", "d"), ("assistant", "e")],
            "roles do not alternate",
        ),
    ],
)
def test_samples_llamafactory_drops_are_rejected(
    tok: Any, messages: list[tuple[str, str]], reason: str
) -> None:
    (row,) = get_profile("llamafactory", tok, template="qwen").encode_batch([conv(*messages)])
    assert isinstance(row, Rejected) and reason in row.reason


def test_record_round_trip_through_the_sharegpt_reader() -> None:
    s = Sample(
        [Message("system", "S"), Message("user", "u"), Message("assistant", "a", reasoning="r")]
    )
    aligned = align_lf_record(to_lf_record(s))
    assert not isinstance(aligned, str)
    assert aligned.system == "S"
    assert aligned.messages[1] == {"role": "assistant", "content": "<think>\nr\n</think>\n\na"}


def test_batch_equals_one_by_one(tok: Any) -> None:
    samples = [conv(("user", f"q{i} 你好"), ("assistant", f"a{i}")) for i in range(5)]
    prof = get_profile("llamafactory", tok, template="qwen")
    batch = prof.encode_batch(samples)
    assert all(isinstance(b, Encoded) for b in batch)
    assert [b.input_ids for b in batch] == [prof.encode(s).input_ids for s in samples]  # type: ignore[union-attr]


def test_unknown_template_and_option_are_clear_errors(tok: Any) -> None:
    with pytest.raises(TemplateError, match="unknown LLaMA-Factory template 'nope'"):
        get_profile("llamafactory", tok, template="nope")
    with pytest.raises(TokenizeError, match="unknown llamafactory option"):
        get_profile("llamafactory", tok, template="qwen", bogus=True)
    with pytest.raises(TokenizeError, match="unknown trainer profile"):
        get_profile("nope", tok)


def test_no_template_parses_the_tokenizers_own(tok: Any) -> None:
    s = conv(("system", "S"), ("user", "q"), ("assistant", "a"))
    parsed = get_profile("llamafactory", tok).encode(s)  # LLaMA-Factory's parse_template
    named = get_profile("llamafactory", tok, template="qwen3_nothink").encode(s)
    assert (parsed.input_ids, parsed.labels) == (named.input_ids, named.labels)


WEATHER = Sample(
    [
        Message("user", "weather?"),
        Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
        Message("tool", "3C"),
        Message("assistant", "3 度"),
    ],
    tools=[{"name": "weather", "parameters": {"type": "object", "properties": {}}}],
)


def test_tool_format_option_replaces_the_function_slots(tok: Any) -> None:
    # get_template_and_fix_tokenizer with tool_format: the function turn becomes {{content}} + EOS
    # in that format (the qwen template's own "<|im_end|>\n" wrapping is gone), tools likewise
    out = get_profile("llamafactory", tok, template="qwen", tool_format="default").encode(WEATHER)
    call = [*enc(tok, 'Action: weather\nAction Input: {"city": "北京"}'), tok.eos_token_id]
    assert [t for t in out.labels if t != IGN] == call + enc(tok, "3 度<|im_end|>\n")
    assert "You have access to the following tools:" in tok.decode(out.input_ids)
    assert "# Tools" not in tok.decode(out.input_ids)


def test_the_profile_encodes_with_the_shared_template_decision(tok: Any) -> None:
    from copy import deepcopy

    from sftforge.chat.profiles.llamafactory import LlamaFactoryProfile
    from sftforge.chat.profiles.llamafactory_choice import choose_lf_template

    own = get_profile("llamafactory", tok)
    assert isinstance(own, LlamaFactoryProfile)
    choice = choose_lf_template(tok, None)
    assert (choice.name, choice.source) == (None, "tokenizer")
    assert own.tpl == choice.build(tok)  # the tokenizer's ChatML, parsed
    plain = deepcopy(tok)
    plain.chat_template = None
    bare = get_profile("llamafactory", plain)
    assert isinstance(bare, LlamaFactoryProfile)
    assert choose_lf_template(plain, None).source == "empty" and bare.tpl.name == "empty"
    assert choose_lf_template(None, None).source == "model"  # tokenizer not known: export only
    assert choose_lf_template(tok, "qwen") == choose_lf_template(None, "qwen")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cutoff_len": 12}, "the cutoff is --max-len"),
        ({"template": "qwen"}, "the template is --template"),
        ({"packing": True}, "packing is not reproduced"),
        ({"mask_history": "maybe"}, "takes true or false"),
        ({"enable_thinking": 1}, "takes true or false"),
        ({"tool_format": "hermes"}, "not reproduced by the llamafactory profile"),
        ({"mask_history": True, "train_on_prompt": True}, "incompatible"),
    ],
)
def test_options_are_checked_once_for_profile_and_export(
    tok: Any, options: dict[str, Any], message: str
) -> None:
    from sftforge.chat.profiles.llamafactory_choice import check_lf_options

    with pytest.raises(TokenizeError, match=message):
        check_lf_options(options)  # what export --for llamafactory calls first
    if "template" not in options:
        with pytest.raises(TokenizeError, match=message):
            get_profile("llamafactory", tok, template="qwen", **options)


def test_enable_thinking_null_and_text_options_are_typed(tok: Any) -> None:
    from sftforge.chat.profiles.llamafactory_choice import check_lf_options

    assert check_lf_options({"enable_thinking": None, "default_system": 7}) == {
        "enable_thinking": None,
        "default_system": "7",  # LLaMA-Factory would put the int into the prompt and fail
    }
    out = get_profile("llamafactory", tok, template="qwen", default_system="你是助手").encode(
        conv(("user", "q"), ("assistant", "a"))
    )
    assert tok.decode(out.input_ids).startswith("<|im_start|>system\n你是助手<|im_end|>")
