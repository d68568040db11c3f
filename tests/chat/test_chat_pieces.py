"""chat.pieces: whole texts encoded as their stretches between added tokens, each distinct stretch
once, must give the tokenizer's own ids for the whole text; tokenizers where that would not hold
are refused and encoded whole."""

from __future__ import annotations

from typing import Any

import pytest
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, trainers

from sftforge.chat.pieces import PieceEncoder, piece_splitter

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im"]  # "<|im" overlaps two others
CORPUS = [
    "Hello world, how are you? I am fine. The answer is 4.",
    "你好，世界。今天天气很好。答案是四。",
    "system user assistant tool <think> thinking </think>",
] * 20
TEXTS = [
    "<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n你好<|im_end|>\n",
    "<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n四<|im_end|>\n",
    "<|im_start|><|im_end|><|endoftext|>",  # added tokens side by side, nothing between
    "no added token at all, 今天天气",
    "<|im_startle <|im|> <|im_start",  # a longer token wins over its prefix only when it matches
    "  leading and trailing spaces  <|im_end|>  ",
    "",
    "<|endoftext|>",
]


def _bpe(pre: Any, normalizer: Any = None, **special: Any) -> Tokenizer:
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre
    if normalizer is not None:
        tk.normalizer = normalizer
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=[AddedToken(t, **special) for t in SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(CORPUS, trainer=trainer)
    tk.add_tokens(["<think>", "</think>"])  # plain added words, also cut out before encoding
    return tk


def _whole(tk: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tk.encode_batch(texts, add_special_tokens=False)]


@pytest.mark.parametrize(
    ("pre", "normalizer"),
    [
        (pre_tokenizers.ByteLevel(add_prefix_space=False), None),
        (pre_tokenizers.ByteLevel(add_prefix_space=True), None),
        # Llama's older fast tokenizers: "▁" prepended by the normalizer to every stretch
        (
            pre_tokenizers.Split(" ", "merged_with_next"),
            normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
        ),
        (pre_tokenizers.Metaspace(prepend_scheme="always"), None),
    ],
)
def test_joined_stretches_equal_the_whole_encode(pre: Any, normalizer: Any) -> None:
    tk = _bpe(pre, normalizer)
    enc = PieceEncoder(tk, tk.encode_batch)
    assert enc.enabled
    first = enc.ids(TEXTS)
    assert first == _whole(tk, TEXTS)
    assert enc.ids(TEXTS[::-1]) == _whole(tk, TEXTS[::-1])  # the stretches now come from memory
    assert enc._cache  # and were remembered


def test_each_distinct_stretch_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tk = _bpe(pre_tokenizers.ByteLevel(add_prefix_space=False))
    calls: list[list[str]] = []

    def batch(texts: list[str], **kw: Any) -> Any:
        calls.append(list(texts))
        return tk.encode_batch(texts, **kw)

    enc = PieceEncoder(tk, batch)
    enc._to_check = 0  # only the piece path's own calls
    texts = ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"] * 50
    assert enc.ids(texts) == _whole(tk, texts)
    assert enc.ids(texts) == _whole(tk, texts)
    assert calls == [["user\nHi", "\n", "assistant\nA"]]


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: _bpe(pre_tokenizers.Metaspace(prepend_scheme="first")), "first stretch only"),
        (lambda: _bpe(pre_tokenizers.ByteLevel(), lstrip=True), "the token eats spaces"),
        (lambda: _bpe(pre_tokenizers.ByteLevel(), single_word=True), "needs word boundaries"),
    ],
)
def test_tokenizers_where_stretches_are_not_independent_are_encoded_whole(
    make: Any, why: str
) -> None:
    tk = make()
    assert piece_splitter(tk) is None, why
    enc = PieceEncoder(tk, tk.encode_batch)
    assert not enc.enabled
    assert enc.ids(TEXTS) == _whole(tk, TEXTS)


def test_truncation_and_split_special_tokens_are_refused() -> None:
    tk = _bpe(pre_tokenizers.ByteLevel())
    tk.enable_truncation(8)
    assert piece_splitter(tk) is None
    tk.no_truncation()
    tk.encode_special_tokens = True
    assert piece_splitter(tk) is None
    tk.encode_special_tokens = False
    assert piece_splitter(tk) is not None


def test_a_difference_on_the_first_texts_turns_the_piece_path_off() -> None:
    tk = _bpe(pre_tokenizers.ByteLevel(add_prefix_space=False))
    enc = PieceEncoder(tk, tk.encode_batch)
    enc._special["<|im_end|>"] = 0  # a wrong id: the check against the whole encode sees it
    assert enc.ids(TEXTS) == _whole(tk, TEXTS)
    assert not enc.enabled
    assert enc.ids(TEXTS) == _whole(tk, TEXTS)


def test_the_trl_profile_rows_are_the_whole_text_rows() -> None:
    """TRL's default masking tokenizes the rendered texts: with the piece path the rows equal
    transformers' own apply_chat_template(tokenize=True) ids."""
    from tiny_chatml import build_tokenizer

    from sftforge.chat.profiles import Encoded, get_profile
    from sftforge.sample import Message, Sample

    tok = build_tokenizer()

    samples = [
        Sample(
            [
                Message("system", "你是助手"),
                Message("user", f"question {i % 7}"),
                Message("assistant", f"answer {i % 5} 很好"),
            ]
        )
        for i in range(300)
    ]
    prof = get_profile("trl", tok, assistant_only_loss=False)
    pieces = prof._text_encoder()._pieces
    assert pieces is not None and pieces.enabled
    rows = [r for r in prof.encode_batch(samples) if isinstance(r, Encoded)]
    want = tok.apply_chat_template(
        [[{"role": m.role, "content": m.content} for m in s.messages] for s in samples],
        tokenize=True,
        return_dict=True,
    )["input_ids"]
    assert [r.input_ids for r in rows] == [list(w) for w in want]
    assert [r.labels for r in rows] == [list(w) for w in want]


@pytest.mark.parametrize(
    "pre",
    [
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        pre_tokenizers.ByteLevel(add_prefix_space=True),
    ],
)
def test_joined_encodings_answer_as_the_whole_encoding(pre: Any) -> None:
    """Native mode reads ids, len, char_to_token and offsets: all equal the whole encoding's."""
    tk = _bpe(pre)
    enc = PieceEncoder(tk, tk.encode_batch)
    for _ in range(2):  # the second time from memory
        got = enc.encodings(TEXTS)
        assert enc.enabled
        for text, (ids, joined), whole in zip(
            TEXTS, got, tk.encode_batch(TEXTS, add_special_tokens=False), strict=True
        ):
            assert ids == whole.ids
            assert len(joined) == len(whole)
            assert joined.offsets == whole.offsets
            for pos in range(len(text) + 2):
                assert joined.char_to_token(pos) == whole.char_to_token(pos), (text, pos)


def test_joined_encodings_fall_back_on_a_difference() -> None:
    tk = _bpe(pre_tokenizers.ByteLevel(add_prefix_space=False))
    enc = PieceEncoder(tk, tk.encode_batch)
    enc._special["<|im_end|>"] = 0
    got = enc.encodings(TEXTS)
    assert not enc.enabled
    assert [ids for ids, _ in got] == _whole(tk, TEXTS)


def test_native_rows_are_the_same_with_the_piece_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """tokenize_samples over many batches (the threaded path, pieces on) gives the rows of the
    one-batch path (whole texts encoded), labels included."""
    from tiny_chatml import CHATML, build_tokenizer

    from sftforge.chat import tokenize as tokenize_module
    from sftforge.chat.tokenize import ChatTokenizer, tokenize_samples

    used: list[PieceEncoder] = []

    class Recorded(PieceEncoder):
        def encodings(self, texts: Any) -> Any:
            used.append(self)
            return super().encodings(texts)

    monkeypatch.setattr(tokenize_module, "PieceEncoder", Recorded)
    from sftforge.chat.templates import ChatTemplate
    from sftforge.sample import Message, Sample

    tok = build_tokenizer()
    chat = ChatTokenizer(tok, ChatTemplate("chatml-unmarked", CHATML), max_len=60)
    samples = [
        Sample(
            [
                Message("system", "你是助手"),
                Message("user", f"question {i % 7} 今天天气"),
                Message("assistant", f"answer {i % 5} 很好"),
                Message("user", "Hello world"),
                Message("assistant", "I am fine." * (1 + i % 9)),
            ],
            id=str(i),
        )
        for i in range(120)
    ]
    streamed = tokenize_samples(samples, chat, batch_size=16)
    one = [tokenize_samples([s], chat) for s in samples]
    assert [(r.id, r.input_ids, r.labels) for r in streamed.rows] == [
        (r.id, r.input_ids, r.labels) for o in one for r in o.rows
    ]
    assert streamed.counts["rejected:too_long"] == sum(o.counts["rejected:too_long"] for o in one)
    assert streamed.rows and streamed.counts["rejected:too_long"]
    assert used and all(p.enabled for p in used) and used[0]._encoded  # pieces, remembered
    whole = tokenize_samples(samples, chat, batch_size=16, threads=False)
    assert streamed.stats.to_dict() == whole.stats.to_dict()
