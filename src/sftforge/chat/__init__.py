"""sftforge.chat: chat templates, native tokenization with exact loss masks, truncation, packing.

The public names below are what the CLI, the pipeline and the trainer profiles call; the
implementation lives in one module per concept (templates/, render, encode, tokenize, truncate,
pack, output, stats, preview, step).
"""

from __future__ import annotations

from .encode import IGNORE_INDEX, load_tokenizer, special_tokens_of
from .pack import PackedRow, PackStats, best_fit_decreasing, pack_rows
from .render import Rendered, render, render_messages
from .stats import TokenStats
from .templates import ChatTemplate, get_template, resolve_template, template_names
from .tokenize import ChatTokenizer, TokenizedRow, TokenizeResult, tokenize_samples
from .truncate import TRUNCATION_POLICIES

__all__ = [
    "IGNORE_INDEX",
    "TRUNCATION_POLICIES",
    "ChatTemplate",
    "ChatTokenizer",
    "PackStats",
    "PackedRow",
    "Rendered",
    "TokenStats",
    "TokenizeResult",
    "TokenizedRow",
    "best_fit_decreasing",
    "get_template",
    "load_tokenizer",
    "pack_rows",
    "render",
    "render_messages",
    "resolve_template",
    "special_tokens_of",
    "template_names",
    "tokenize_samples",
]
