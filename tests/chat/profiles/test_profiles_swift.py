from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.profiles import Rejected, get_profile
from sftforge.errors import TemplateError
from sftforge.sample import Message, Sample

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
    r2 = enc(tok, "d<|im_end|>")
    assert out.input_ids == p1 + r1 + p2 + r2
    end = enc(tok, "<|im_end|>")  # _add_dynamic_eos trains the first round's <|im_end|>
    expected = [IGN] * len(p1) + r1 + end + [IGN] * (len(p2) - len(end)) + r2
    assert out.labels == expected


def test_default_system_and_merged_user_turns(tok: Any) -> None:
    s = conv(("user", "a"), ("user", "b"), ("assistant", "c"))
    out = get_profile("swift", tok, template="qwen").encode(s)
    prompt = enc(
        tok,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n",
    )
    assert out.input_ids == prompt + enc(tok, "c<|im_end|>")
    chatml = get_profile("swift", tok, template="chatml").encode(s)  # no default system
    assert chatml.input_ids[: len(enc(tok, "<|im_start|>user\n"))] == enc(tok, "<|im_start|>user\n")


@pytest.mark.parametrize(("strategy", "length"), [("left", 5), ("right", 5)])
def test_truncation_strategies(tok: Any, strategy: str, length: int) -> None:
    s = conv(("user", "Hello world, how are you?"), ("assistant", "fine"))
    out = get_profile("swift", tok, max_length=5, truncation_strategy=strategy).encode(s)
    assert len(out.input_ids) == length
    (row,) = get_profile("swift", tok, max_length=5).encode_batch([s])
    assert isinstance(row, Rejected) and "deleted" in row.reason


def test_tools_are_rejected_and_names_checked(tok: Any) -> None:
    s = Sample([Message("user", "a"), Message("assistant", "b")], tools=[{"name": "f"}])
    (row,) = get_profile("swift", tok).encode_batch([s])
    assert isinstance(row, Rejected) and "agent templates" in row.reason
    with pytest.raises(TemplateError, match="unknown ms-swift template"):
        get_profile("swift", tok, template="nope")
