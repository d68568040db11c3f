"""tokenize_samples with the encoding in a worker thread gives the very result of the plain loop.

Rows, rejects (in the same order, template errors first within a batch, as before), counts and
stats, across many batches, with every kind of reject, and for truncation policies that encode
again while the worker is busy.
"""

from __future__ import annotations

from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS

import sftforge.chat.tokenize as tokenize_mod
from sftforge.chat import ChatTokenizer, tokenize_samples
from sftforge.sample import Message, Sample

LONG = Sample(
    [Message("system", "You are a helpful assistant.")]
    + [
        m
        for i in range(4)
        for m in (Message("user", f"Hello world {i}, how are you?"), Message("assistant", "Fine."))
    ]
)


def _mixed() -> list[Sample]:
    base = [*CONVERSATIONS.values(), LONG]
    return [s for _ in range(7) for s in base]


def _as_tuple(result: Any) -> tuple[Any, ...]:
    return (
        [(r.id, r.input_ids, r.labels, r.truncated) for r in result.rows],
        [(r.sample.id, r.op, r.reason, r.value) for r in result.rejects],
        dict(result.counts),
        result.stats.to_dict(),
    )


@pytest.mark.parametrize(
    ("template", "options"),
    [
        ("chatml", {}),
        ("llama2", {}),  # template errors on tool turns
        ("chatml", {"max_len": 40}),
        ("chatml", {"max_len": 40, "truncation": "cut_answer"}),
        ("chatml", {"max_len": 60, "truncation": "drop_oldest_turns"}),
        ("chatml", {"train_on": "flags"}),
    ],
)
def test_threaded_result_equals_the_plain_loop(
    bpe_tok: Any, template: str, options: dict[str, Any]
) -> None:
    chat = ChatTokenizer(bpe_tok, template, **options)
    samples = _mixed()
    plain = tokenize_samples(samples, chat, batch_size=3, threads=False)
    threaded = tokenize_samples(iter(samples), chat, batch_size=3)
    assert _as_tuple(threaded) == _as_tuple(plain)
    assert plain.counts["seen"] == len(samples) == len(plain.rows) + len(plain.rejects)


def test_threads_only_for_several_batches_of_a_rust_tokenizer(
    bpe_tok: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[int] = []
    real = tokenize_mod._tokenize_overlapped

    def spy(*args: Any) -> None:
        used.append(1)
        real(*args)

    monkeypatch.setattr(tokenize_mod, "_tokenize_overlapped", spy)
    chat = ChatTokenizer(bpe_tok, "chatml")
    tokenize_samples(_mixed()[:3], chat, batch_size=3)  # one batch
    assert not used
    tokenize_samples(_mixed(), chat, batch_size=3)
    assert used == [1]
