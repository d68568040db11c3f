"""Split reasoning from the answer: a ``<think>...</think>`` block in the text, or a separate
``reasoning_content`` / ``reasoning`` field (DeepSeek, vLLM, Qwen's compatible mode).

Only a block at the start of the text counts (models put it first); a reply cut off inside an
unclosed ``<think>`` has reasoning and no answer, which callers treat as a failure.
"""

from __future__ import annotations

import re

__all__ = ["split_reasoning"]

_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)", re.S)
_CLOSE_ONLY = re.compile(r"^(.*?)</think>", re.S)  # templates that pre-fill the opening tag


def split_reasoning(text: str, field: str | None = None) -> tuple[str, str | None]:
    """``(answer, reasoning)``; ``field`` is a reasoning field sent next to the text, if any."""
    reasoning = field.strip() if field and field.strip() else None
    m = _THINK.match(text)
    if m is None and "<think>" not in text:
        m = _CLOSE_ONLY.match(text)
    if m is None:
        return text.strip(), reasoning
    inner = m.group(1).strip()
    answer = text[m.end() :].strip()
    if inner:
        reasoning = f"{reasoning}\n{inner}" if reasoning else inner
    return answer, reasoning
