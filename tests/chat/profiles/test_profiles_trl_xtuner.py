from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.profiles import Rejected, get_profile
from sftforge.chat.profiles.xtuner import openai_rounds
from sftforge.errors import TemplateError
from sftforge.sample import Message, Sample

IGN = -100


def enc(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def conv(*pairs: tuple[str, str]) -> Sample:
    return Sample([Message(r, c) for r, c in pairs])  # type: ignore[arg-type]


def test_trl_assistant_only_loss_trains_the_generation_spans(tok: Any, chatml_gen: str) -> None:
    out = get_profile("trl", tok, assistant_only_loss=True, chat_template=chatml_gen).encode(
        conv(("user", "Hi"), ("assistant", "Hello"))
    )
    prompt = enc(tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    answer = enc(tok, "Hello<|im_end|>")
    n = len(prompt) + len(answer)
    assert out.input_ids[:n] == prompt + answer
    assert out.labels == [IGN] * len(prompt) + answer + [IGN] * (len(out.input_ids) - n)


def test_trl_without_masks_trains_everything(tok: Any, chatml_gen: str) -> None:
    out = get_profile("trl", tok, chat_template=chatml_gen, assistant_only_loss=False).encode(
        conv(("user", "a"), ("assistant", "b"))
    )
    assert out.labels == out.input_ids


def test_trl_prompt_completion_masks_up_to_the_common_prefix(tok: Any) -> None:
    s = conv(("user", "Hi"), ("assistant", "Yo"))
    out = get_profile("trl", tok, layout="prompt_completion", assistant_only_loss=False).encode(s)
    prompt = enc(tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert out.labels[: len(prompt)] == [IGN] * len(prompt)
    assert out.labels[len(prompt) :] == out.input_ids[len(prompt) :]


@pytest.mark.parametrize(("mode", "kept"), [("keep_start", "prompt"), ("keep_end", "answer")])
def test_trl_truncation_modes(tok: Any, chatml_gen: str, mode: str, kept: str) -> None:
    s = conv(("user", "Hello world, how are you? " * 3), ("assistant", "fine"))
    (row,) = get_profile(
        "trl",
        tok,
        assistant_only_loss=True,
        chat_template=chatml_gen,
        max_length=6,
        truncation_mode=mode,
    ).encode_batch([s])
    if kept == "prompt":
        assert isinstance(row, Rejected) and "after truncation" in row.reason
    else:
        assert not isinstance(row, Rejected) and len(row.input_ids) == 6


def test_trl_assistant_only_needs_generation_marks(tok: Any) -> None:
    # a template whose answers cannot be found by rendering: the prompt says "assistant", the
    # rendered turn "bot", so no marked copy works
    mismatch = (
        "{% for m in messages %}<|im_start|>{{ 'bot' if m.role == 'assistant' else m.role }}\n"
        "{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    with pytest.raises(TemplateError, match="generation"):
        get_profile("trl", tok, assistant_only_loss=True, chat_template=mismatch)


def test_xtuner_openai_map_fn_rules() -> None:
    s = Sample(
        [
            Message("system", "S"),
            Message("user", "a"),
            Message("user", "b"),
            Message("assistant", "c", train=False),
            Message("user", "d"),
            Message("assistant", "e"),
            Message("user", "dangling"),
        ]
    )
    assert openai_rounds(s) == [
        {"system": "S", "input": "ab", "output": "c", "output_with_loss": False},
        {"system": "", "input": "d", "output": "e", "output_with_loss": True},
    ]


def test_xtuner_default_template_bos_eos_and_sep(tok: Any) -> None:
    s = conv(("system", "S"), ("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    out = get_profile("xtuner", tok, template="default").encode(s)
    bos, eos = tok.bos_token_id, tok.eos_token_id
    in1 = enc(tok, "<|System|>:S\n<|User|>:a\n<|Bot|>:")
    in2 = enc(tok, "<|User|>:c\n<|Bot|>:")
    sep = enc(tok, "\n")
    b, d = enc(tok, "b"), enc(tok, "d")
    assert out.input_ids == [bos, *in1, *b, eos, *sep, bos, *in2, *d, eos, *sep]
    assert out.labels == [IGN] * (1 + len(in1)) + [*b, eos] + [IGN] * (len(sep) + 1 + len(in2)) + [
        *d,
        eos,
    ] + [IGN] * len(sep)


def test_xtuner_suffix_as_eos_has_no_eos_and_one_bos(tok: Any) -> None:
    s = conv(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    out = get_profile("xtuner", tok, template="qwen_chat").encode(s)
    assert out.input_ids.count(tok.bos_token_id) == 1  # BOS only before the first round
    assert tok.eos_token_id in out.input_ids  # <|im_end|> comes from the SUFFIX text, trained
    assert out.labels[-len(enc(tok, "\n")) :] == [IGN] * len(enc(tok, "\n"))


def test_xtuner_rejects_tools_and_unknown_templates(tok: Any) -> None:
    s = Sample(
        [
            Message("user", "a"),
            Message("assistant", "b"),
            Message("tool", "x"),
            Message("assistant", "c"),
        ]
    )
    (row,) = get_profile("xtuner", tok).encode_batch([s])
    assert isinstance(row, Rejected) and "tool" in row.reason
    with pytest.raises(TemplateError, match="unknown XTuner template"):
        get_profile("xtuner", tok, template="nope")
