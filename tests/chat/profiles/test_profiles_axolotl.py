from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.profiles import Rejected, get_profile
from sftforge.sample import Message, Sample

IGN = -100


def enc(tok: Any, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


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
    trained = [t for t in out.labels if t != IGN]
    assert trained == enc(tok, "4")


def test_roles_to_train_user_and_sequence_len(tok: Any) -> None:
    s = Sample([Message("user", "Hi"), Message("assistant", "Hello")])
    out = get_profile("axolotl", tok, roles_to_train=["user", "assistant"]).encode(s)
    assert [t for t in out.labels if t != IGN] == [
        *enc(tok, "Hi"),
        tok.eos_token_id,
        *enc(tok, "Hello"),
        tok.eos_token_id,
    ]
    (row,) = get_profile("axolotl", tok, max_length=5).encode_batch([s])
    assert isinstance(row, Rejected) and "sequence_len" in row.reason


@pytest.mark.parametrize("bad", [{"nope": 1}])
def test_unknown_option(tok: Any, bad: dict[str, Any]) -> None:
    from sftforge.errors import TokenizeError

    with pytest.raises(TokenizeError, match="unknown axolotl option"):
        get_profile("axolotl", tok, **bad)
