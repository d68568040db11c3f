"""Our ``Message`` turns in the OpenAI chat wire format.

Tool calls become ``{"id", "type": "function", "function": {"name", "arguments": <JSON string>}}``
(our ``arguments`` are dicts); tool results keep ``tool_call_id``; ``reasoning`` and ``train``
are ours and are not sent. Sample ``tools`` (JSON-schema functions) become
``[{"type": "function", "function": ...}]`` unless already in that shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..sample import Message

__all__ = ["to_wire_messages", "to_wire_tools"]


def to_wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        d: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            d["tool_calls"] = [
                {
                    "id": tc.id or f"call_{i}",
                    "type": "function",
                    "function": {"name": tc.name, "arguments": orjson.dumps(tc.arguments).decode()},
                }
                for i, tc in enumerate(m.tool_calls)
            ]
        if m.tool_call_id is not None:
            d["tool_call_id"] = m.tool_call_id
        if m.name is not None and m.role == "tool":
            d["name"] = m.name
        out.append(d)
    return out


def to_wire_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    return [
        t
        if t.get("type") == "function" and "function" in t
        else {"type": "function", "function": t}
        for t in tools
    ]
