"""What ms-swift 4.6 hands a tokenizer's chat template in its ``jinja`` backend (``swift`` profile).

Read from ms-swift 4.6.0 (``swift/template/template_inputs.py`` ``normalize_openai_tool_calls`` and
``StdTemplateInputs.from_dict``; ``swift/template/base.py`` ``_preprocess_tools``,
``_preprocess_tool_call``, ``_swift_prepare_inputs``, ``_jinja_encode``; the ``hermes`` agent
template; ``swift/utils/schema_utils.py`` ``remove_arrow_padding``) and checked against ms-swift's
own ``Template.encode`` (tests/chat/profiles/test_profiles_oracle.py). The rendering and the labels
are the profile's (:mod:`.swift`); this module builds the messages, the tools and the
``add_generation_prompt`` flag.
"""

from __future__ import annotations

from typing import Any

from ...sample import Message, Sample
from .swift_agent import format_tool_calls

__all__ = ["JINJA_TEMPLATE_TYPES", "jinja_conversation", "swift_tools"]

# ms-swift template type -> (default_system, agent_template), the two things its jinja backend
# takes from the type (the rest of the type's format is the chat template's business)
JINJA_TEMPLATE_TYPES: dict[str, tuple[str | None, str | None]] = {
    "qwen3_nothinking": (None, "hermes"),
    "chatml": (None, None),
    "qwen": ("You are a helpful assistant.", "hermes"),
    "qwen2_5": ("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "hermes"),
}

# JSON-schema keys whose null values are data, not Arrow padding (remove_arrow_padding)
_NULL_VALUE_KEYS = frozenset({"default", "const"})
_NULL_ITEM_KEYS = frozenset({"enum", "examples"})
_SCHEMA_MAP_KEYS = (
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
)


def _remove_arrow_padding(schema: Any) -> Any:
    """ms-swift drops the ``null`` fields a tool schema may carry from Arrow's column alignment."""
    if isinstance(schema, list):
        return [_remove_arrow_padding(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NULL_VALUE_KEYS or key.startswith("x-"):
            cleaned[key] = value
        elif key in _NULL_ITEM_KEYS:
            if value is not None:
                cleaned[key] = value
        elif value is None:
            continue
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            cleaned[key] = {n: _remove_arrow_padding(v) for n, v in value.items() if v is not None}
        else:
            cleaned[key] = _remove_arrow_padding(value)
    return cleaned


def swift_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_preprocess_tools``: each tool without padding, wrapped as ``{"type": "function", ...}``."""
    out = []
    for tool in tools:
        tool = _remove_arrow_padding(tool)
        if "type" not in tool and "function" not in tool:
            tool = {"type": "function", "function": tool}
        out.append(tool)
    return out


def _in_call_order(msgs: list[Message]) -> list[Message]:
    """``normalize_openai_tool_calls``: a call's results follow the calls' order when every call
    has an id and the results carry exactly those ids; otherwise they stay as written."""
    msgs = list(msgs)
    for i, m in enumerate(msgs):
        if m.role != "assistant" or not m.tool_calls:
            continue
        order = {c.id: k for k, c in enumerate(m.tool_calls)}
        end = i + 1
        while end < len(msgs) and msgs[end].role == "tool":
            end += 1
        results = msgs[i + 1 : end]
        ids = {r.tool_call_id for r in results}
        if (
            None not in order
            and len(order) == len(m.tool_calls) == len(results)
            and ids == set(order)
        ):
            msgs[i + 1 : end] = sorted(results, key=lambda r: order[r.tool_call_id])
    return msgs


def jinja_conversation(
    sample: Sample, default_system: str | None, agent_template: str | None
) -> tuple[list[dict[str, Any]], bool] | str:
    """(messages for the chat template, add_generation_prompt), or why ms-swift would fail."""
    msgs = list(sample.messages)
    system = None
    if msgs and msgs[0].role == "system":
        system, msgs = msgs[0].content, msgs[1:]
    if not msgs:
        return "no message after the system prompt"
    uses_tools = bool(sample.tools) or any(m.tool_calls for m in msgs)
    if uses_tools and agent_template is None:
        return "tools need an agent template, which this ms-swift template type has none of"
    out: list[dict[str, Any]] = []
    for m in _in_call_order(msgs):
        content = m.content
        if m.role == "assistant" and m.reasoning is not None:
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        turns: list[dict[str, Any]] = []
        if m.role == "assistant" and m.tool_calls:
            # the text (when there is any) and the calls are two turns, joined just below
            if content:
                turns.append({"role": "assistant", "content": content})
            turns.append(
                {
                    "role": "assistant",
                    "content": format_tool_calls(agent_template or "hermes", m.tool_calls),
                }
            )
        else:
            turn: dict[str, Any] = {"role": m.role, "content": content}
            if m.name is not None:
                turn["name"] = m.name
            if m.tool_call_id is not None:
                turn["tool_call_id"] = m.tool_call_id
            turns.append(turn)
        for turn in turns:
            # _swift_prepare_inputs: consecutive user (or assistant) turns are one, texts joined
            if out and out[-1]["role"] == turn["role"] and turn["role"] in ("user", "assistant"):
                out[-1]["content"] += turn["content"]
            else:
                out.append(turn)
    if system is None:
        system = default_system
    if system is not None:
        out.insert(0, {"role": "system", "content": system})
    return out, out[-1]["role"] != "assistant"
