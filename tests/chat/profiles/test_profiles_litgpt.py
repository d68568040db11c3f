"""The ``litgpt`` profile: LitGPT 0.5's JSON module + SFTDataset + prompt styles + Tokenizer rules,
on hand-computed ids of a tiny tokenizer saved to a folder (LitGPT reads the folder's files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, Rejected, get_profile, load_tokenizer
from sftforge.chat.profiles.litgpt import dropped_bos_note, prompt_style_for
from sftforge.chat.profiles.litgpt_styles import STYLES, TURNS, apply_style
from sftforge.errors import TokenizeError
from sftforge.sample import Message, Sample, ToolCall

IGN = -100
CHAT = [Message("user", "Hi"), Message("assistant", "Hello")]
TWO = [*CHAT, Message("user", "q"), Message("assistant", "4")]


@pytest.fixture(scope="module")
def lit_tok(tok_dir: Path) -> Any:
    return load_tokenizer(str(tok_dir))


def raw(folder: Path, text: str) -> list[int]:
    """What LitGPT's backend gives: ``tokenizers`` from tokenizer.json, special tokens added."""
    from tokenizers import Tokenizer

    return list(Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids)


def test_single_turn_prompt_masked_answer_and_eos_trained(lit_tok: Any, tok_dir: Path) -> None:
    out = get_profile("litgpt", lit_tok).encode(Sample(CHAT))
    prompt = raw(tok_dir, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    answer = [*raw(tok_dir, "Hello"), lit_tok.eos_token_id]
    assert out.input_ids == prompt + answer
    assert out.labels == [IGN] * len(prompt) + answer


def test_each_answer_is_one_row_after_the_earlier_turns(lit_tok: Any, tok_dir: Path) -> None:
    prof = get_profile("litgpt", lit_tok)
    rows = prof.encode_batch([Sample(TWO)])
    assert len(rows) == 2 and all(isinstance(r, Encoded) for r in rows)
    second = rows[1]
    assert isinstance(second, Encoded)
    prompt = raw(
        tok_dir,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
        "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n",
    )
    assert second.input_ids == prompt + raw(tok_dir, "4") + [lit_tok.eos_token_id]
    assert second.labels[: len(prompt)] == [IGN] * len(prompt)
    # the whole conversation, each answer trained once: the ChatML render of the tokenizer
    assert prof.decision.style == "qwen3" and prof.decision.note is None


def test_mask_prompt_false_trains_everything_and_max_length_cuts(lit_tok: Any) -> None:
    out = get_profile("litgpt", lit_tok, mask_prompt=False).encode(Sample(CHAT))
    assert out.labels == out.input_ids
    short = get_profile("litgpt", lit_tok, max_length=3).encode(Sample(CHAT))
    # the prompt alone is cut to 3, so nothing of the answer is left: LitGPT keeps the row
    assert len(short.input_ids) == 3 and short.labels == [IGN] * 3


def test_a_bos_litgpt_does_not_use_is_taken_off_the_prompt(
    make_tokenizer: Any, tmp_path: Path
) -> None:
    # the tokenizer's BOS is <|im_start|> and add_bos_token is not set: LitGPT's Tokenizer removes
    # a first token equal to BOS, so every ChatML prompt loses its first <|im_start|>
    folder = tmp_path / "bos-im-start"
    make_tokenizer(bos="<|im_start|>").save_pretrained(folder)
    tok = load_tokenizer(str(folder))
    out = get_profile("litgpt", tok).encode(Sample(CHAT))
    full = raw(folder, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert out.input_ids[: len(full) - 1] == full[1:]
    assert "removes the first token" in str(dropped_bos_note(folder, "qwen3"))
    assert dropped_bos_note(folder, "alpaca") is None


def test_add_bos_token_prepends_bos(lit_tok: Any, tok_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-bos"
    shutil.copytree(tok_dir, folder)
    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, "add_bos_token": True}))
    tok = load_tokenizer(str(folder))
    out = get_profile("litgpt", tok).encode(Sample(CHAT))
    assert out.input_ids[0] == tok.convert_tokens_to_ids("<s>")
    assert out.input_ids[1:] == get_profile("litgpt", lit_tok).encode(Sample(CHAT)).input_ids


def test_system_prompt_is_sys_prompt_and_alpaca_input_is_kept(lit_tok: Any, tok_dir: Path) -> None:
    s = Sample([Message("system", "你是助手"), *CHAT])
    out = get_profile("litgpt", lit_tok).encode(s)
    prompt = raw(
        tok_dir,
        "<|im_start|>system\n你是助手<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n",
    )
    assert out.input_ids[: len(prompt)] == prompt
    alpaca = Sample(
        [Message("user", "Translate\nbonjour"), Message("assistant", "hello")],
        meta={"prompt_input": "bonjour"},
    )
    got = get_profile("litgpt", lit_tok, template="alpaca").encode(alpaca)
    text = (
        "Below is an instruction that describes a task, paired with an input that provides further"
        " context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
        "Translate\n\n### Input:\nbonjour\n\n### Response:\n"
    )
    assert got.input_ids[: len(raw(tok_dir, text))] == raw(tok_dir, text)


def test_what_litgpt_records_cannot_carry_is_rejected(lit_tok: Any) -> None:
    tools = Sample(
        [
            Message("user", "weather?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ],
        tools=[{"name": "weather", "parameters": {"type": "object"}}],
    )
    rows = get_profile("litgpt", lit_tok, template="alpaca").encode_batch([tools, Sample(TWO)])
    assert [type(r) for r in rows] == [Rejected, Rejected]
    assert (
        isinstance(rows[1], Rejected) and "'alpaca' prompt style is single-turn" in rows[1].reason
    )
    lossy = get_profile("litgpt", lit_tok, template="alpaca", allow_lossy=True)
    assert len(lossy.encode_batch([Sample(TWO)])) == 1  # its first exchange
    gemma = get_profile("litgpt", lit_tok, template="gemma")
    (row,) = gemma.encode_batch([Sample([Message("system", "s"), *CHAT])])
    assert isinstance(row, Rejected) and "has none" in row.reason


def test_options_and_template_names_are_checked(lit_tok: Any) -> None:
    with pytest.raises(TokenizeError, match="unknown litgpt option"):
        get_profile("litgpt", lit_tok, mask_history=True)
    with pytest.raises(TokenizeError, match="not a LitGPT prompt style"):
        get_profile("litgpt", lit_tok, template="qwen")
    with pytest.raises(TokenizeError, match="own templates"):
        get_profile("litgpt", lit_tok, template="tokenizer")


def test_the_decision_warns_when_the_style_differs_from_the_template(lit_tok: Any) -> None:
    assert prompt_style_for(lit_tok, None).note is None  # ChatML: qwen3 writes the same
    llama3 = prompt_style_for(lit_tok, "llama3")
    assert llama3.style == "llama3" and "does not write conversations" in str(llama3.note)
    assert prompt_style_for(None, None).style == "alpaca"
    # no tokenizer, a hub id: the style LitGPT itself gives the model's name
    assert prompt_style_for(None, None, "Qwen/Qwen2.5-7B-Instruct").style == "qwen2.5"
    assert prompt_style_for(None, None, "meta-llama/Llama-3.2-1B-Instruct").style == "llama3"
    assert prompt_style_for(None, None, "deepseek-ai/DeepSeek-R1").style == "alpaca"
    assert prompt_style_for(None, None, "/R1/models/Qwen3-8B").style == "qwen3"  # the name only


def test_each_chat_style_wraps_its_prompt_in_its_own_turns() -> None:
    for style, turns in TURNS.items():
        text = apply_style(style, {"instruction": "PROMPT", "input": "", "output": "x"})
        head, _, tail = text.partition("PROMPT")
        assert tail == turns.answer_open and head.endswith(turns.user_open), style
        assert style in STYLES
