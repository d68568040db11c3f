"""ms-swift 4.6's agent templates for its ``swift`` backend (``swift`` profile): tools, calls, results.

Read from ms-swift 4.6.0 (``swift/agent_template/base.py`` ``ReactCompatMixin``,
``BaseAgentTemplate._parse_tool``; ``hermes.py`` ``HermesAgentTemplate``; ``react.py``
``ReactEnAgentTemplate``/``ReactZnAgentTemplate``) and compared with ms-swift's own
``Template.encode`` on glaive_toolcall_zh_demo (src/sftforge/export/peers/swift.py).
Reproduced: ``hermes`` (the agent template of the ``qwen``, ``qwen2_5`` and ``qwen3_nothinking``
template types) and ``react_en``/``react_zh`` (ms-swift's documented ReAct formats). Each function
returns text pieces that the profile places and masks the way ``_swift_encode`` does.
"""

from __future__ import annotations

import json
from typing import Any

from ...sample import ToolCall

__all__ = [
    "AGENT_TEMPLATES",
    "format_standalone_results",
    "format_tool_calls",
    "format_tool_results",
    "format_tools",
]

AGENT_TEMPLATES = ("hermes", "react_en", "react_zh")

# ReactCompatMixin.keyword
_ACTION, _ACTION_INPUT, _OBSERVATION = "Action:", "Action Input:", "Observation:"

_HERMES_TOOLS = """

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
"""
_HERMES_TOOLS_END = """
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>"""

_REACT_EN = """Answer the following questions as best you can. You have access to the following tools:

{descs}

Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{names}]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can be repeated zero or more times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question

Begin!
"""
_REACT_ZH = """尽可能地回答以下问题。你可以使用以下工具:

{descs}

请按照以下格式进行:

Question: 需要你回答的输入问题
Thought: 你应该总是思考该做什么
Action: 需要使用的工具，应该是[{names}]中的一个
Action Input: 传入工具的内容
Observation: 行动的结果
... (这个Thought/Action/Action Input/Observation可以重复N次)
Thought: 我现在知道最后的答案
Final Answer: 对原始输入问题的最终答案

现在开始！
"""


def _react_desc(tool: dict[str, Any], zh: bool) -> tuple[str, str]:
    """``_parse_tool`` then the per-tool line of ``react_en``/``react_zh``: (name, line)."""
    if "type" in tool and "function" in tool:
        tool = tool["function"]
    name = tool.get("name_for_model") or tool.get("name")
    human = tool.get("name_for_human") or name
    desc = tool.get("description")
    if desc is None:
        desc = tool.get("description_for_model")
    if name is None or desc is None:
        # ms-swift asserts both; the row fails to encode and is skipped
        raise ValueError("a tool without a name or a description")
    params = tool.get("parameters") or {}
    params = params if isinstance(params, str) else json.dumps(params, ensure_ascii=False)
    if zh:
        line = (
            f"{name}: 调用此工具与 {human} API 进行交互。{human} 有什么用？{desc} "
            f"输入参数：{params} 此工具的输入应为JSON对象。"
        )
    else:
        line = (
            f"{name}: Call this tool to interact with the {human} API. What is the {human} API "
            f"useful for? {desc} Parameters: {params} Format the arguments as a JSON object."
        )
    return str(name), line


def format_tools(agent: str, tools: list[dict[str, Any]], system: str | None) -> str:
    """``_format_tools``: the system text that carries the (already wrapped) tools. The ReAct
    templates leave the system prompt out, as ms-swift does."""
    if agent == "hermes":
        descs = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
        return (system or "") + _HERMES_TOOLS + descs + _HERMES_TOOLS_END
    pairs = [_react_desc(t, agent == "react_zh") for t in tools]
    template = _REACT_ZH if agent == "react_zh" else _REACT_EN
    return template.format(
        descs="\n\n".join(line for _, line in pairs), names=",".join(n for n, _ in pairs)
    )


def format_tool_calls(agent: str, calls: list[ToolCall]) -> str:
    """``_format_tool_calls`` of consecutive ``tool_call`` turns (parallel calls)."""
    if agent == "hermes":
        return "\n".join(
            "<tool_call>\n"
            + json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False)
            + "\n</tool_call>"
            for c in calls
        )
    # ReactCompatMixin: the arguments as Python writes the dict (ms-swift's f-string)
    return (
        "".join(f"{_ACTION} {c.name}\n{_ACTION_INPUT} {c.arguments}\n" for c in calls)
        + _OBSERVATION
    )


def _react_results(content: str, results: list[str]) -> tuple[str, list[str]]:
    """``ReactCompatMixin._format_tool_responses`` on one assistant text."""
    if _ACTION in content and _ACTION_INPUT in content:
        if not content.endswith(_OBSERVATION):
            if not content.endswith("\n"):
                content += "\n"
            content += _OBSERVATION
        pieces: list[str] = []
        for i, text in enumerate(results):
            if i > 0:
                pieces.append(_OBSERVATION)
            pieces.append(text)
            if not text.endswith("\n"):
                pieces.append("\n")
        return content, pieces
    return content, list(results)


def format_tool_results(
    agent: str, parts: list[str], results: list[str], meta: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """``_format_tool_responses``: the assistant's parts (the last may gain ``Observation:``) and
    the texts that stand as the next round's query (untrained). ``parts`` are the assistant
    turn's texts; ms-swift holds one text as a string and merged turns as a list, which changes
    how ``hermes`` looks for a ReAct action (substring of a string, element of a list)."""
    if agent == "hermes":
        with_action = (
            _ACTION in parts[0] and _ACTION_INPUT in parts[0]
            if len(parts) == 1
            else _ACTION in parts and _ACTION_INPUT in parts
        )
        if not with_action:
            total = "\n".join(f"<tool_response>\n{r}\n</tool_response>" for r in results)
            prompt = [p.replace("{{QUERY}}", total) for p in meta["prompt"]]
            return parts, [*meta["chat_sep"], *prompt]
    last, pieces = _react_results(parts[-1], results)
    return [*parts[:-1], last], pieces


def format_standalone_results(agent: str, results: list[str], meta: dict[str, Any]) -> str:
    """``_format_standalone_tool_responses``: tool results right after a user turn, appended to
    that user's text."""
    if agent == "hermes":
        total = "\n".join(f"<tool_response>\n{r}\n</tool_response>" for r in results)
        out = list(meta["chat_sep"])
        for context in meta["prompt"]:
            if "{{QUERY}}" in context:
                return "".join([*out, context.split("{{QUERY}}", 1)[0], total])
            out.append(context)
        raise ValueError("the template's prompt has no {{QUERY}}")
    return "".join(f"\n{_OBSERVATION}\n{r}" for r in results)
