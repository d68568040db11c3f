"""Propose a ``ColumnMap`` from the field names a file has, when no format fits it.

Header names are matched, ignoring case, spaces, ``_`` and ``-``, against the usual Chinese and
English names of each part (``问题``/``question``/``instruction`` -> prompt, ``答案``/``answer``/
``output`` -> response...). Each part takes the first field that matches it; a proposal needs a
prompt or a conversation. Fields left over are not proposed: the mapped format keeps them in
``meta``. This is a suggestion shown to the user (``inspect``, the detection error), and what
readers that accept any instruction list use (``columns="auto"``).
"""

from __future__ import annotations

from typing import Any

from .columns import ColumnMap

__all__ = ["SYNONYMS", "propose_columns"]

SYNONYMS: dict[str, tuple[str, ...]] = {
    "messages": ("对话", "多轮对话", "会话", "messages", "conversations", "conversation", "dialog",
                 "dialogue", "chat", "turns"),
    "prompt": ("问题", "问", "提问", "指令", "题目", "用户问题", "question", "instruction", "prompt",
               "query", "q", "user"),
    "query": ("输入", "补充", "上下文", "input", "context"),
    "response": ("答案", "回答", "答复", "回复", "应答", "response", "answer", "output", "a",
                 "completion", "reply", "assistant"),
    "system": ("系统", "系统提示", "系统提示词", "人设", "system", "systemprompt"),
    "history": ("历史", "历史对话", "history"),
    "chosen": ("chosen", "优选回答", "好回答"),
    "rejected": ("rejected", "劣选回答", "坏回答"),
    "tools": ("工具", "tools", "functions"),
    "id": ("id", "编号", "序号"),
}  # fmt: skip
_INDEX = {name: part for part, names in SYNONYMS.items() for name in names}


def _normal(key: str) -> str:
    return "".join(ch for ch in key.strip().lower() if ch not in " _-")


def propose_columns(values: list[Any]) -> ColumnMap | None:
    """A mapping for records ``values`` (their keys, in order of first appearance), or None."""
    keys: dict[str, None] = {}
    for value in values:
        if type(value) is dict:
            keys.update(dict.fromkeys(k for k in value if type(k) is str))
    chosen: dict[str, str] = {}  # part -> field
    for key in keys:
        part = _INDEX.get(_normal(key))
        if part is not None and part not in chosen:
            chosen[part] = key
    if chosen.get("messages") in ("messages", "conversations"):
        # the conversation layouts are formats of their own: records that none of them read
        # (an unknown role, say) are not fixed by naming the field, so nothing is proposed
        return None
    if "messages" in chosen:
        chosen = {
            p: k for p, k in chosen.items() if p not in ("prompt", "query", "response", "history")
        }
    elif "prompt" not in chosen:
        return None
    return ColumnMap.from_mapping({key: part for part, key in chosen.items()})
