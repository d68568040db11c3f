"""Fixtures: the tiny ChatML tokenizer of ``tiny_chatml`` (shared with the other trainer tests)."""

from tiny_chatml import chatml_gen, make_tokenizer, tok, tok_dir

__all__ = ["chatml_gen", "make_tokenizer", "tok", "tok_dir"]
