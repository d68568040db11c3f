"""Tiny random causal LMs (Llama- and Qwen2-style) saved as model folders, built in the test.

No downloads: the tokenizer is the byte-level BPE of ``tests/chat/tiny_chatml.py`` (ChatML with
``{% generation %}`` marks), the weights are random. Training, merge, chat and eval tests share
these builders so every test area trains the same kind of model. Import it as ``tiny_models``
(``tests/`` is on the path through its conftest).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "chat"))

from tiny_chatml import CHATML_GEN, build_tokenizer

__all__ = ["ARCHES", "build_tiny_model"]

ARCHES = ("llama", "qwen2")


def _config(arch: str, vocab_size: int, tok: Any) -> Any:
    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    if arch == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(**common)
    if arch == "qwen2":
        from transformers import Qwen2Config

        return Qwen2Config(**common)
    raise ValueError(f"unknown arch {arch!r}: one of {ARCHES}")


def build_tiny_model(outdir: Path, arch: str = "llama", *, seed: int = 0) -> Path:
    """Write a tiny random ``arch`` model with its tokenizer and chat template to ``outdir``."""
    import torch
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    tok.chat_template = CHATML_GEN
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_config(arch, len(tok), tok))
    outdir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(outdir)
    tok.save_pretrained(outdir)
    return outdir
