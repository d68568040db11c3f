"""A tiny byte-level BPE tokenizer with ChatML special tokens, built in the test (no downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CORPUS = [
    "Hello world, how are you? I am fine. The answer is 4.",
    "你好，世界。今天天气很好。答案是四。",
    "system user assistant tool Human Assistant System Instruction Response",
    "<think> thinking </think> call weather city Beijing 北京",
] * 20
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_GEN = (
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(*, bos: str | None = "<s>", eos: str = "<|im_end|>") -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(CORPUS, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token=bos, eos_token=eos, pad_token="<|endoftext|>"
    )
    tok.chat_template = CHATML
    return tok


@pytest.fixture(scope="session")
def tok() -> Any:
    return build_tokenizer()


@pytest.fixture(scope="session")
def tok_dir(tmp_path_factory: pytest.TempPathFactory, tok: Any) -> Path:
    path = tmp_path_factory.mktemp("tok")
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def chatml_gen() -> str:
    return CHATML_GEN


@pytest.fixture(scope="session")
def make_tokenizer() -> Any:
    return build_tokenizer
