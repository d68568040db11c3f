"""LLaMA-Factory's tool text: the tool list in the system turn and the assistant's function calls.

Reproduced from LLaMA-Factory 0.9.5 ``data/tool_utils.py`` (``DefaultToolUtils``,
``QwenToolUtils``, ``GLM4ToolUtils``, ``Llama3ToolUtils``, ``MistralToolUtils``) and
``data/formatter.py`` (``FunctionFormatter``, ``ToolFormatter``). Other tool formats are not
reproduced: a sample that needs one is rejected with that reason rather than encoded differently.
The llama3 format stamps today's date into the system prompt, as LLaMA-Factory does.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ...errors import TokenizeError

__all__ = ["format_function_call", "format_tools"]

_DEFAULT_TOOL_PROMPT = (
    "You have access to the following tools:\n{tool_text}"
    "Use the following format if using a tool:\n"
    "```\n"
    "Action: tool name (one of [{tool_names}])\n"
    "Action Input: the input to the tool, in a JSON format representing the kwargs "
    """(e.g. ```{{"input": "hello world", "num_beams": 5}}```)\n"""
    "```\n"
)
_QWEN_TOOL_PROMPT = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tool_text}"
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    """<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, """
    """"arguments": <args-json-object>}}\n</tool_call>"""
)

_GLM4_TOOL_PROMPT = (
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
    "你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具{tool_text}"
)
_LLAMA3_TOOL_PROMPT = (
    "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n"
    "You have access to the following functions. To call a function, please respond with JSON for a function call. "
    """Respond in the format {{"name": function name, "parameters": dictionary of argument name and its value}}. """
    "Do not use variables.\n\n{tool_text}"
)


def _wrap(tool: dict[str, Any]) -> dict[str, Any]:
    return tool if tool.get("type") == "function" else {"type": "function", "function": tool}


def _unsupported(fmt: str) -> TokenizeError:
    return TokenizeError(
        f"LLaMA-Factory tool format '{fmt}' is not reproduced by the llamafactory profile",
        hint="use a template with the 'default' or 'qwen' tool format, or drop the tools",
    )


def _default_tools(tools: list[dict[str, Any]]) -> str:
    tool_text = ""
    names = []
    for tool in tools:
        tool = tool.get("function", "") if tool.get("type") == "function" else tool
        params = ""
        for name, param in tool["parameters"]["properties"].items():
            required = ", required" if name in tool["parameters"].get("required", []) else ""
            enum = (
                ", should be one of [{}]".format(", ".join(param["enum"]))
                if param.get("enum")
                else ""
            )
            items = (
                ", where each item should be {}".format(param["items"].get("type", ""))
                if param.get("items")
                else ""
            )
            params += f"  - {name} ({param.get('type', '')}{required}): {param.get('description', '')}{enum}{items}\n"
        tool_text += f"> Tool Name: {tool['name']}\nTool Description: {tool.get('description', '')}\nTool Args:\n{params}\n"
        names.append(tool["name"])
    return _DEFAULT_TOOL_PROMPT.format(tool_text=tool_text, tool_names=", ".join(names))


def _qwen_tools(tools: list[dict[str, Any]]) -> str:
    text = ""
    for tool in tools:
        wrapped = tool if tool.get("type") == "function" else {"type": "function", "function": tool}
        text += "\n" + json.dumps(wrapped, ensure_ascii=False)
    return _QWEN_TOOL_PROMPT.format(tool_text=text)


def format_tools(tools_json: str, fmt: str) -> str:
    """``ToolFormatter.apply``: the tool list as text ('' for an empty list)."""
    try:
        tools = json.loads(tools_json)
    except json.JSONDecodeError as exc:
        raise TokenizeError(f"invalid JSON in the tool list: {tools_json[:80]!r}") from exc
    if len(tools) == 0:
        return ""
    if fmt == "default":
        return _default_tools(tools)
    if fmt == "qwen":
        return _qwen_tools(tools)
    if fmt == "glm4":
        text = ""
        for tool in tools:
            tool = tool.get("function", "") if tool.get("type") == "function" else tool
            body = json.dumps(tool, indent=4, ensure_ascii=False)
            text += f"\n\n## {tool['name']}\n\n{body}\n在调用上述函数时，请使用 Json 格式表示调用的参数。"
        return _GLM4_TOOL_PROMPT.format(tool_text=text)
    if fmt == "llama3":
        date = datetime.now().strftime("%d %b %Y")
        text = "".join(json.dumps(_wrap(t), indent=4, ensure_ascii=False) + "\n\n" for t in tools)
        return _LLAMA3_TOOL_PROMPT.format(date=date, tool_text=text)
    if fmt == "mistral":
        wrapped = [_wrap(t) for t in tools]
        return "[AVAILABLE_TOOLS] " + json.dumps(wrapped, ensure_ascii=False) + "[/AVAILABLE_TOOLS]"
    raise _unsupported(fmt)


def _calls_text(json_content: str, fmt: str) -> str:
    try:
        calls = json.loads(json_content)
    except json.JSONDecodeError as exc:
        raise TokenizeError(f"invalid JSON in a function call: {json_content[:80]!r}") from exc
    if not isinstance(calls, list):
        calls = [calls]
    pairs = [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]
    if fmt == "default":
        return "\n".join(f"Action: {name}\nAction Input: {args}" for name, args in pairs)
    if fmt == "qwen":
        texts = [
            json.dumps({"name": name, "arguments": json.loads(args)}, ensure_ascii=False)
            for name, args in pairs
        ]
        return "\n".join(f"<tool_call>\n{t}\n</tool_call>" for t in texts)
    if fmt == "glm4":
        if len(pairs) > 1:
            raise TokenizeError("GLM-4 does not support parallel functions (LLaMA-Factory raises)")
        return f"{pairs[0][0]}\n{pairs[0][1]}"
    if fmt == "llama3":
        objs = [{"name": name, "parameters": json.loads(args)} for name, args in pairs]
        return json.dumps(objs[0] if len(objs) == 1 else objs, ensure_ascii=False)
    if fmt == "mistral":
        objs = [{"name": name, "arguments": json.loads(args)} for name, args in pairs]
        return json.dumps(objs, ensure_ascii=False)
    raise _unsupported(fmt)


def format_function_call(
    content: str,
    fmt: str,
    thought_words: tuple[str, str] | None,
    tool_call_words: tuple[str, str] | None,
) -> str:
    """``FunctionFormatter.apply`` before slot filling: keeps a thought, formats the calls.

    ``None`` words (``Llama2Template`` passes none) skip the tool-call and thought searches.
    """
    call = None
    if tool_call_words:
        pattern = rf"{re.escape(tool_call_words[0])}(.*?){re.escape(tool_call_words[1])}"
        call = re.search(pattern, content, re.DOTALL)
    if call is None:
        thought = None
        if thought_words:
            pattern = rf"{re.escape(thought_words[0])}(.*?){re.escape(thought_words[1])}"
            thought = re.search(pattern, content, re.DOTALL)
        json_part = content.replace(thought.group(0), "") if thought else content
        text = _calls_text(json_part, fmt)
        return thought.group(0) + text if thought else text
    return content.replace(call.group(0), "") + _calls_text(call.group(1), fmt)
