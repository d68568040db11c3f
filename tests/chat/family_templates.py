"""Chat templates written for the tests, reproducing the structures of the real model families.

Each is written once with ``{% generation %}`` marks around what a model is trained to write (its
answer, tool calls, reasoning where rendered, and the end-of-turn token); ``unmarked`` removes
the marks, giving the template as a model ships it. ``Family.unstable`` names the conversations on
which the template is not prefix-stable (and the first such assistant turn). A uniquely named
module (not conftest) so other test areas can never shadow it on import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sftforge.sample import Sample

__all__ = [
    "FAMILIES",
    "FAMILY_CONVERSATIONS",
    "FAMILY_SPECIALS",
    "Family",
    "conversations_for",
    "unmarked",
]

FAMILY_SPECIALS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|im_sep|>",
    "<|endoftext|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "[INST]",
    "[/INST]",
    "[TOOL_CALLS]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
    "<|tool|>",
    "<|/tool|>",
    "<|observation|>",
    "[gMASK]",
    "<sop>",
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<｜User｜>",
    "<｜Assistant｜>",
    "<｜tool▁calls▁begin｜>",
    "<｜tool▁call▁begin｜>",
    "<｜tool▁sep｜>",
    "<｜tool▁call▁end｜>",
    "<｜tool▁calls▁end｜>",
    "<｜tool▁output▁begin｜>",
    "<｜tool▁output▁end｜>",
    "<reserved_106>",
    "<reserved_107>",
    "<|START_OF_TURN_TOKEN|>",
    "<|END_OF_TURN_TOKEN|>",
    "<|SYSTEM_TOKEN|>",
    "<|USER_TOKEN|>",
    "<|CHATBOT_TOKEN|>",
    "<|start_of_role|>",
    "<|end_of_role|>",
    "<|end_of_text|>",
    "<|tool_call|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
    "<用户>",
    "<AI>",
    "<|end_of_turn|>",
]

_MARK = re.compile(r"\{%-?\s*(end)?generation\s*-?%\}")


def unmarked(source: str) -> str:
    """The template as shipped: the same text without its generation marks."""
    return _MARK.sub("", source)


@dataclass(frozen=True)
class Family:
    name: str
    source: str  # with {% generation %} marks
    tools: bool = True  # renders tool calls and tool results
    system: bool = True  # accepts a system message
    kwargs: dict[str, Any] = field(default_factory=dict)
    unstable: dict[str, int] = field(default_factory=dict)  # conversation -> first bad turn


_CHATML_TURN = (
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- m.content + '<|im_end|>' }}"
    "{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CHATML = Family("chatml", _CHATML_TURN, tools=False)

YI = Family(
    "yi",
    "{%- if messages[0].role != 'system' %}{%- endif %}" + _CHATML_TURN,
    tools=False,
)

QWEN2_PLAIN = Family(
    "qwen2",
    "{%- if messages[0].role != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    + _CHATML_TURN,
    tools=False,
)

_HERMES_TOOLS = (
    "{{- '# Tools\\n\\nYou may call one or more functions.\\n<tools>' }}"
    "{%- for t in tools %}{{- '\\n' }}{{- t | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nReturn <tool_call></tool_call> blocks.<|im_end|>\\n' }}"
)
_TOOL_CALLS_XML = (
    "{%- for tc in m.tool_calls %}"
    "{%- if (loop.first and m.content) or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{%- set f = tc.function if tc.function else tc %}"
    '{{- \'<tool_call>\\n{"name": "\' + f.name + \'", "arguments": \' }}'
    "{{- f.arguments if f.arguments is string else f.arguments | tojson }}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
)

QWEN25 = Family(
    "qwen2.5",
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}"
    "{%- else %}{{- 'You are Qwen, a helpful assistant.\\n\\n' }}{%- endif %}" + _HERMES_TOOLS + ""
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' or (m.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{%- if m.content %}{{- m.content }}{%- endif %}"
    "{%- if m.tool_calls %}" + _TOOL_CALLS_XML + "{%- endif %}"
    "{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}"
    "{%- endif %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
)

_QWEN3 = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    + _HERMES_TOOLS
    + "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
    "{%- for m in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}"
    "{%- if ns.multi_step_tool and m.role == 'user' %}"
    "{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}"
    "{%- endfor %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' or (m.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}"
    "{%- set reasoning = m.reasoning_content if m.reasoning_content is string else '' %}"
    "{%- set think = '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' %}"
    "{%- if KEEP or (loop.index0 > ns.last_query_index and (loop.last or reasoning)) %}"
    "{%- set body = think + m.content.lstrip('\\n') %}{%- else %}{%- set body = m.content %}"
    "{%- endif %}"
    # with thinking off the inference prompt already holds '<think>\\n\\n</think>\\n\\n': the
    # trained text starts after as much of it as the turn shares
    "{%- set pre = '' %}"
    "{%- if (loop.last or KEEP) and enable_thinking is defined and enable_thinking is false %}"
    "{%- set pre = '<think>\\n\\n</think>\\n\\n' if not reasoning else '<think>\\n' %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n' + pre }}{% generation %}{{- body[pre | length:] }}"
    "{%- if m.tool_calls %}" + _TOOL_CALLS_XML + "{%- endif %}"
    "{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}"
    "{%- endif %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
# KEEP: a variable the real template does not have; the keep-reasoning test renders the oracle
# with it set, the template under test leaves it undefined (falsy), as Qwen3 ships
QWEN3 = Family(
    "qwen3",
    _QWEN3.replace("KEEP", "keep_reasoning"),
    unstable={"en_multi": 1, "zh_multi": 1, "tools": 1, "reasoning": 1, "no_system": 1},
)
QWEN3_NOTHINK = Family(
    "qwen3-nothink",
    _QWEN3.replace("KEEP", "keep_reasoning"),
    kwargs={"enable_thinking": False},
    unstable={"en_multi": 1, "zh_multi": 1, "tools": 1, "reasoning": 1, "no_system": 1},
)

MINIMIND = Family(
    "minimind",
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}"
    "{%- set r = m.reasoning_content if m.reasoning_content is string else '' %}"
    "{%- if r %}{{- '<|im_start|>assistant\\n<think>\\n' }}{% generation %}"
    "{{- r.strip('\\n') + '\\n</think>\\n\\n' + m.content + '<|im_end|>' }}{% endgeneration %}"
    "{%- else %}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' }}{% generation %}"
    "{{- m.content + '<|im_end|>' }}{% endgeneration %}{%- endif %}"
    "{{- '\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}",
    tools=False,
)

LLAMA2 = Family(
    "llama2",
    "{%- if messages[0].role == 'system' %}{%- set loop_messages = messages[1:] %}"
    "{%- set system = messages[0].content %}{%- else %}{%- set loop_messages = messages %}"
    "{%- set system = false %}{%- endif %}"
    "{%- for m in loop_messages %}"
    "{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif %}"
    "{%- if loop.index0 == 0 and system %}"
    "{%- set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + m.content %}"
    "{%- else %}{%- set content = m.content %}{%- endif %}"
    "{%- if m.role == 'user' %}{{- bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{%- else %}{% generation %}{{- ' ' + content.strip() + ' ' + eos_token }}"
    "{% endgeneration %}{%- endif %}{%- endfor %}",
    tools=False,
)

_LLAMA3_HEADER = "'<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n'"
LLAMA3 = Family(
    "llama3",
    "{{- bos_token }}{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% generation %}"
    "{{- m.content | trim }}{{- '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}{{- " + _LLAMA3_HEADER + " + m.content | trim + '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
    tools=False,
)

_LLAMA31 = (
    "{{- '<|begin_of_text|>' }}"
    "{%- if not date_string is defined %}{%- set date_string = '26 Jul 2024' %}{%- endif %}"
    "{%- if messages[0].role == 'system' %}{%- set system_message = messages[0].content | trim %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{%- if tools is not none %}{{- 'Environment: ipython\\n' }}{%- endif %}"
    "{{- 'Cutting Knowledge Date: December 2023\\nToday Date: ' + date_string + '\\n\\n' }}"
    "{{- system_message + '<|eot_id|>' }}"
    "{%- if tools is not none %}"
    "{%- set first_user_message = messages[0].content | trim %}{%- set messages = messages[1:] %}"
    "{{- '<|start_header_id|>user<|end_header_id|>\\n\\n' }}"
    "{{- 'Given the following functions, respond with a JSON function call.\\n\\n' }}"
    "{%- for t in tools %}{{- t | tojson(indent=4) + '\\n\\n' }}{%- endfor %}"
    "{{- first_user_message + '<|eot_id|>' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' and m.tool_calls %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% generation %}"
    "{%- set tc = m.tool_calls[0].function %}"
    "{{- '{\"name\": \"' + tc.name + '\", \"parameters\": ' + tc.arguments | tojson + '}' }}"
    "{{- '<|eom_id|>' if IPY else '<|eot_id|>' }}{% endgeneration %}"
    "{%- elif m.role == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% generation %}"
    "{{- m.content | trim + '<|eot_id|>' }}{% endgeneration %}"
    "{%- elif m.role == 'tool' or m.role == 'ipython' %}"
    "{{- '<|start_header_id|>ipython<|end_header_id|>\\n\\n' }}"
    "{%- if m.content is mapping or m.content is iterable and m.content is not string %}"
    "{{- m.content | tojson }}{%- else %}{{- m.content }}{%- endif %}{{- '<|eot_id|>' }}"
    "{%- else %}{{- " + _LLAMA3_HEADER + " + m.content | trim + '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
LLAMA31 = Family("llama3.1", _LLAMA31.replace("IPY", "false"))
LLAMA31_EOM = Family("llama3.1-eom", _LLAMA31.replace("IPY", "true"))
LLAMA32 = Family(
    "llama3.2",
    _LLAMA31.replace("IPY", "false").replace(
        "'26 Jul 2024'", "strftime_now('%Y') and '26 Jul 2024'"
    ),
    kwargs={"date_string": "07 Dec 2026"},
)

MISTRAL_V1 = Family(
    "mistral-v1",
    "{%- if messages[0].role == 'system' %}"
    "{%- set system = messages[0].content + '\\n\\n' %}{%- set loop_messages = messages[1:] %}"
    "{%- else %}{%- set system = '' %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}{%- for m in loop_messages %}"
    "{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('roles must alternate') }}{%- endif %}"
    "{%- if m.role == 'user' %}"
    "{%- if loop.first %}{{- '[INST] ' + system + m.content + ' [/INST]' }}"
    "{%- else %}{{- '[INST] ' + m.content + ' [/INST]' }}{%- endif %}"
    "{%- else %}{% generation %}{{- ' ' + m.content + eos_token }}{% endgeneration %}"
    "{%- endif %}{%- endfor %}",
    tools=False,
)

_MISTRAL_V3 = (
    "{%- if messages[0].role == 'system' %}{%- set system_message = messages[0].content %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for m in loop_messages %}{%- if m.role == 'user' %}"
    "{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}"
    "{{- bos_token }}{%- for m in loop_messages %}"
    "{%- if m.role == 'user' %}"
    "{%- if tools is not none and loop.index0 == ns.last_user %}"
    "{{- '[AVAILABLE_TOOLS] [' }}{%- for t in tools %}{{- t.function | tojson }}"
    "{%- if not loop.last %}{{- ', ' }}{%- endif %}{%- endfor %}{{- '][/AVAILABLE_TOOLS]' }}"
    "{%- endif %}"
    "{%- if SYS_WHERE and system_message is defined %}"
    "{{- '[INST] ' + system_message + '\\n\\n' + m.content + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + m.content + '[/INST]' }}{%- endif %}"
    "{%- elif m.role == 'assistant' and m.tool_calls %}{% generation %}{{- '[TOOL_CALLS] [' }}"
    "{%- for tc in m.tool_calls %}"
    '{{- \'{"name": "\' + tc.function.name + \'", "arguments": \' }}'
    "{{- tc.function.arguments | tojson + '}' }}{%- endfor %}"
    "{{- ']' + eos_token }}{% endgeneration %}"
    "{%- elif m.role == 'assistant' %}{% generation %}{{- ' ' + m.content + eos_token }}"
    "{% endgeneration %}"
    "{%- elif m.role == 'tool' %}"
    "{{- '[TOOL_RESULTS] {\"content\": ' + m.content | tojson + '}[/TOOL_RESULTS]' }}"
    "{%- endif %}{%- endfor %}"
)
# v3: the system prompt goes into the last user turn: not prefix-stable with a system prompt
MISTRAL_V3 = Family(
    "mistral-v3",
    _MISTRAL_V3.replace("SYS_WHERE", "loop.index0 == ns.last_user"),
    unstable={"en_multi": 1, "zh_multi": 1},
)
MISTRAL_V3_FIRST = Family("mistral-v3-first-user", _MISTRAL_V3.replace("SYS_WHERE", "loop.first"))

MISTRAL_V7 = Family(
    "mistral-v7",
    "{{- bos_token }}{%- for m in messages %}"
    "{%- if m.role == 'system' %}{{- '[SYSTEM_PROMPT]' + m.content + '[/SYSTEM_PROMPT]' }}"
    "{%- elif m.role == 'user' %}{{- '[INST]' + m.content + '[/INST]' }}"
    "{%- elif m.role == 'assistant' and m.tool_calls %}{% generation %}{{- '[TOOL_CALLS]' }}"
    "{{- m.tool_calls | map(attribute='function') | list | tojson }}{{- eos_token }}"
    "{% endgeneration %}"
    "{%- elif m.role == 'assistant' %}{% generation %}{{- m.content + eos_token }}"
    "{% endgeneration %}"
    "{%- elif m.role == 'tool' %}{{- '[TOOL_RESULTS]' + m.content + '[/TOOL_RESULTS]' }}"
    "{%- endif %}{%- endfor %}",
)

_GEMMA = (
    "{{- bos_token }}"
    "{%- if messages[0].role == 'system' %}FOLD"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set first_user_prefix = '' %}"
    "{%- set loop_messages = messages %}{%- endif %}"
    "{%- for m in loop_messages %}"
    "{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif %}"
    "{%- set role = 'model' if m.role == 'assistant' else m.role %}"
    "{{- '<start_of_turn>' + role + '\\n' }}"
    "{%- if m.role == 'assistant' %}{% generation %}{{- m.content | trim + '<end_of_turn>' }}"
    "{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- (first_user_prefix if loop.first else '') + m.content | trim }}"
    "{{- '<end_of_turn>\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)
GEMMA3 = Family(
    "gemma3",
    _GEMMA.replace("FOLD", "{%- set first_user_prefix = messages[0].content + '\\n\\n' %}"),
    tools=False,
)
GEMMA = Family(
    "gemma",
    _GEMMA.replace("FOLD", "{{- raise_exception('System role not supported') }}"),
    tools=False,
    system=False,
)

PHI3 = Family(
    "phi3",
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|assistant|>\\n' }}{% generation %}"
    "{{- m.content + '<|end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|' + m.role + '|>\\n' + m.content + '<|end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- else %}{{- eos_token }}"
    "{%- endif %}",
    tools=False,
)

PHI4 = Family(
    "phi4",
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|im_start|>assistant<|im_sep|>' }}{% generation %}"
    "{{- m.content + '<|im_end|>' }}{% endgeneration %}"
    "{%- else %}{{- '<|im_start|>' + m.role + '<|im_sep|>' + m.content + '<|im_end|>' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant<|im_sep|>' }}{%- endif %}",
    tools=False,
)

PHI4_MINI = Family(
    "phi4-mini",
    "{%- for m in messages %}"
    "{%- if m.role == 'system' and tools %}"
    "{{- '<|system|>' + m.content + '<|tool|>' + tools | tojson + '<|/tool|><|end|>' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|assistant|>' }}{% generation %}"
    "{%- if m.tool_calls %}{{- m.tool_calls | map(attribute='function') | list | tojson }}"
    "{%- else %}{{- m.content }}{%- endif %}{{- '<|end|>' }}{% endgeneration %}"
    "{%- else %}{{- '<|' + m.role + '|>' + m.content + '<|end|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>' }}{%- else %}{{- eos_token }}{%- endif %}",
)

_DEEPSEEK = (
    "{%- set ns = namespace(system='', is_tool=false) %}"
    "{%- for m in messages %}{%- if m.role == 'system' %}"
    "{%- set ns.system = m.content %}{%- endif %}{%- endfor %}"
    "{{- bos_token + ns.system }}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{%- set ns.is_tool = false %}{{- '<｜User｜>' + m.content }}"
    "{%- elif m.role == 'assistant' and m.tool_calls %}{%- set ns.is_tool = false %}"
    "{{- '<｜Assistant｜>' }}{% generation %}{{- '<｜tool▁calls▁begin｜>' }}"
    "{%- for tc in m.tool_calls %}"
    "{{- '<｜tool▁call▁begin｜>function<｜tool▁sep｜>' + tc.function.name + '\\n```json\\n' }}"
    "{{- tc.function.arguments | tojson + '\\n```<｜tool▁call▁end｜>' }}{%- endfor %}"
    "{{- '<｜tool▁calls▁end｜><｜end▁of▁sentence｜>' }}{% endgeneration %}"
    "{%- elif m.role == 'assistant' %}"
    "{%- set content = m.content %}{%- if '</think>' in content %}"
    "{%- set content = content.split('</think>')[-1] %}{%- endif %}"
    "{%- if ns.is_tool %}{% generation %}{{- content + '<｜end▁of▁sentence｜>' }}"
    "{% endgeneration %}{%- set ns.is_tool = false %}"
    "{%- else %}{{- '<｜Assistant｜>' }}{% generation %}"
    "{{- content + '<｜end▁of▁sentence｜>' }}{% endgeneration %}{%- endif %}"
    "{%- elif m.role == 'tool' %}{%- set ns.is_tool = true %}"
    "{{- '<｜tool▁output▁begin｜>' + m.content + '<｜tool▁output▁end｜>' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt and not ns.is_tool %}{{- '<｜Assistant｜>GENPROMPT' }}"
    "{%- elif add_generation_prompt %}{{- 'GENPROMPT' }}{%- endif %}"
)
DEEPSEEK_V3 = Family("deepseek-v3", _DEEPSEEK.replace("GENPROMPT", ""))
# R1 opens <think> in the generation prompt and drops reasoning from every turn
DEEPSEEK_R1 = Family("deepseek-r1", _DEEPSEEK.replace("GENPROMPT", "<think>\\n"))

_GLM = (
    "{{- '[gMASK]<sop>' }}"
    "{%- if tools %}{{- '<|system|>\\nYou can use these tools:' }}"
    "{%- for t in tools %}{{- '\\n\\n## ' + t.function.name + '\\n\\n' }}"
    "{{- t.function | tojson(indent=4) }}{%- endfor %}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|assistant|>' }}{% generation %}"
    "{%- if m.tool_calls %}{%- for tc in m.tool_calls %}"
    "{{- tc.function.name + '\\n' + tc.function.arguments | tojson }}{%- endfor %}"
    "{%- else %}{{- '\\n' + m.content }}{%- endif %}ENDTOKEN{% endgeneration %}"
    "{%- elif m.role == 'tool' %}{{- '<|observation|>\\n' + m.content }}"
    "{%- else %}{{- '<|' + m.role + '|>\\n' + m.content }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>' }}{%- endif %}"
)
GLM4 = Family("glm4", _GLM.replace("ENDTOKEN", ""))
CHATGLM3 = Family("chatglm3", _GLM.replace("ENDTOKEN", "").replace("[gMASK]<sop>", "[gMASK]sop"))

INTERNLM2 = Family(
    "internlm2",
    "{{- bos_token }}"
    "{%- if messages[0].role != 'system' %}"
    "{{- '<|im_start|>system\\nYou are InternLM, a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}" + _CHATML_TURN,
    tools=False,
)

BAICHUAN2 = Family(
    "baichuan2",
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}{{- m.content }}"
    "{%- elif m.role == 'user' %}{{- '<reserved_106>' + m.content }}"
    "{%- elif m.role == 'assistant' %}{{- '<reserved_107>' }}{% generation %}"
    "{{- m.content + eos_token }}{% endgeneration %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<reserved_107>' }}{%- endif %}",
    tools=False,
)

_COMMAND_R = (
    "{{- bos_token }}"
    "{%- if messages[0].role == 'system' %}{%- set system = messages[0].content %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}"
    "{%- set system = 'You are Command-R, a brilliant, sophisticated, AI-assistant.' %}"
    "{%- set loop_messages = messages %}{%- endif %}"
    "{{- '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system }}"
    "{%- if documents %}{{- '\\n\\n## Documents' }}{%- for d in documents %}"
    "{{- '\\nDocument: ' + loop.index0 | string + '\\ntitle: ' + d.title + '\\ntext: ' + d.text }}"
    "{%- endfor %}{%- endif %}"
    "{%- if tools %}{{- '\\n\\n## Available Tools\\n```json\\n' }}"
    "{{- tools | tojson(indent=2) + '\\n```' }}{%- endif %}"
    "{{- '<|END_OF_TURN_TOKEN|>' }}"
    "{%- for m in loop_messages %}"
    "{%- if m.role == 'user' %}"
    "{{- '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + m.content + '<|END_OF_TURN_TOKEN|>' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}"
    "{% generation %}"
    "{%- if m.tool_calls %}{{- 'Action: ```json\\n' }}"
    "{{- m.tool_calls | map(attribute='function') | list | tojson(indent=4) + '\\n```' }}"
    "{%- else %}{{- m.content }}{%- endif %}{{- '<|END_OF_TURN_TOKEN|>' }}{% endgeneration %}"
    "{%- elif m.role == 'tool' %}"
    "{{- '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><results>\\n' + m.content }}"
    "{{- '\\n</results><|END_OF_TURN_TOKEN|>' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}"
    "{%- endif %}"
)
COMMAND_R = Family("command-r", _COMMAND_R)

GRANITE = Family(
    "granite",
    "{%- if messages[0].role == 'system' %}{%- set system = messages[0].content %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}"
    "{%- set system = 'Knowledge Cutoff Date: April 2024. You are Granite.' %}"
    "{%- set loop_messages = messages %}{%- endif %}"
    "{{- '<|start_of_role|>system<|end_of_role|>' + system + '<|end_of_text|>\\n' }}"
    "{%- if tools %}{{- '<|start_of_role|>tools<|end_of_role|>' }}"
    "{{- tools | tojson(indent=4, sort_keys=true) + '<|end_of_text|>\\n' }}{%- endif %}"
    "{%- for m in loop_messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|start_of_role|>assistant<|end_of_role|>' }}"
    "{% generation %}"
    "{%- if m.tool_calls %}{{- '<|tool_call|>' }}"
    "{{- m.tool_calls | map(attribute='function') | list | tojson(sort_keys=true) }}"
    "{%- else %}{{- m.content }}{%- endif %}{{- '<|end_of_text|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{{- '<|start_of_role|>tool_response<|end_of_role|>' + m.content + '<|end_of_text|>\\n' }}"
    "{%- else %}{{- '<|start_of_role|>' + m.role + '<|end_of_role|>' + m.content }}"
    "{{- '<|end_of_text|>\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_of_role|>assistant<|end_of_role|>' }}"
    "{%- endif %}",
)

HERMES = Family(
    "hermes",
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- 'You are a function calling AI model. <tools> ' }}"
    "{%- for t in tools %}{{- t | tojson + ' ' }}{%- endfor %}"
    "{{- '</tools><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{{- m.content }}"
    "{%- for tc in m.tool_calls or [] %}{{- '<tool_call>\\n' }}"
    "{{- {'arguments': tc.function.arguments, 'name': tc.function.name} | tojson }}"
    "{{- '\\n</tool_call>' }}{%- endfor %}{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{{- '<|im_start|>tool\\n<tool_response>\\n' + m.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
)

MINICPM = Family(
    "minicpm",
    "{{- bos_token }}{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- '<用户>' + m.content | trim }}"
    "{%- elif m.role == 'assistant' %}{{- '<AI>' }}{% generation %}{{- m.content | trim }}"
    "{{- eos_token }}{% endgeneration %}"
    "{%- else %}{{- m.content | trim }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<AI>' }}{%- endif %}",
    tools=False,
)

VICUNA = Family(
    "vicuna",
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + ' ' }}"
    "{%- else %}{{- 'A chat between a curious user and an artificial intelligence assistant. ' }}"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- 'USER: ' + m.content + ' ' }}"
    "{%- elif m.role == 'assistant' %}{{- 'ASSISTANT:' }}{% generation %}"
    "{{- ' ' + m.content + eos_token }}{% endgeneration %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- 'ASSISTANT:' }}{%- endif %}",
    tools=False,
)

ZEPHYR = Family(
    "zephyr",
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|assistant|>\\n' }}{% generation %}"
    "{{- m.content + eos_token }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|' + m.role + '|>\\n' + m.content + eos_token + '\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}",
    tools=False,
)

OPENCHAT = Family(
    "openchat",
    "{{- bos_token }}{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- 'GPT4 Correct Assistant:' }}{% generation %}"
    "{{- ' ' + m.content + '<|end_of_turn|>' }}{% endgeneration %}"
    "{%- else %}{{- 'GPT4 Correct ' + m.role.title() + ': ' + m.content + '<|end_of_turn|>' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- 'GPT4 Correct Assistant:' }}{%- endif %}",
    tools=False,
)

# rounds numbered from the first: prefix-stable
CHATGLM2 = Family(
    "chatglm2",
    "{%- set ns = namespace(round=0) %}{{- '[gMASK]sop' }}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}{{- m.content + '\\n\\n' }}"
    "{%- elif m.role == 'user' %}{%- set ns.round = ns.round + 1 %}"
    "{{- '[Round ' + ns.round | string + ']\\n\\n问：' + m.content + '\\n\\n答：' }}"
    "{%- elif m.role == 'assistant' %}{% generation %}{{- m.content }}{% endgeneration %}"
    "{{- '\\n\\n' }}{%- endif %}{%- endfor %}",
    tools=False,
)

# rounds numbered from the last ("turns left"): never prefix-stable beyond one turn
COUNTDOWN = Family(
    "countdown",
    "{%- set users = messages | selectattr('role', 'equalto', 'user') | list %}"
    "{%- set ns = namespace(left=users | length) %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}{{- '<|system|>' + m.content + '<|end|>' }}"
    "{%- elif m.role == 'user' %}"
    "{{- '<|user|>(' + ns.left | string + ' left) ' + m.content + '<|end|>' }}"
    "{%- set ns.left = ns.left - 1 %}"
    "{%- elif m.role == 'assistant' %}{{- '<|assistant|>' }}{% generation %}"
    "{{- m.content + '<|end|>' }}{% endgeneration %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>' }}{%- endif %}",
    tools=False,
    unstable={"en_multi": 1, "zh_multi": 1, "no_system": 1, "reasoning": 1},
)

# system prompt repeated before the last user message only (like Mistral v3, without tools)
SYSTEM_LAST = Family(
    "system-last",
    "{%- set ns = namespace(last=-1) %}"
    "{%- for m in messages %}{%- if m.role == 'user' %}{%- set ns.last = loop.index0 %}"
    "{%- endif %}{%- endfor %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{- '<|user|>' }}"
    "{%- if loop.index0 == ns.last and messages[0].role == 'system' %}"
    "{{- messages[0].content + '\\n' }}{%- endif %}{{- m.content + '<|end|>' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|assistant|>' }}{% generation %}"
    "{{- m.content + '<|end|>' }}{% endgeneration %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>' }}{%- endif %}",
    tools=False,
    unstable={"en_multi": 1, "zh_multi": 1},
)

# loop controls (continue/break) and a recursive macro for nested tool schemas
SCHEMA_MACRO = Family(
    "schema-macro",
    "{%- macro render_props(props, depth) %}"
    "{%- for name, spec in props | dictsort %}"
    "{{- '\\n' + '  ' * depth + '- ' + name + ': ' + spec.type }}"
    "{%- if spec.properties is defined %}{{- render_props(spec.properties, depth + 1) }}"
    "{%- endif %}{%- endfor %}{%- endmacro %}"
    "{%- if tools %}{{- '<|im_start|>system\\nTools:' }}"
    "{%- for t in tools %}{{- '\\n' + t.function.name }}"
    "{{- render_props(t.function.parameters.properties, 1) }}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' and tools %}{%- continue %}{%- endif %}"
    "{%- if m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{{- m.content }}{%- for tc in m.tool_calls or [] %}"
    "{{- '<tool_call>' + tc.function | tojson + '</tool_call>' }}"
    "{%- if loop.index >= 4 %}{%- break %}{%- endif %}{%- endfor %}"
    "{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
)

# a ChatML variant that closes assistant turns with the tokenizer's EOS and begins with BOS
CHATML_BOS_EOS = Family(
    "chatml-bos-eos",
    "{{- bos_token }}{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{{- m.content + eos_token }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
    tools=False,
)

# tool results folded into one user turn as JSON with its own key order
TOOL_JSON = Family(
    "tool-json",
    "{%- for m in messages %}"
    "{%- if m.role == 'tool' %}"
    "{{- '<|im_start|>user\\n' + {'tool': m.name, 'result': m.content} | tojson(indent=2) }}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{%- if m.tool_calls %}{{- m.tool_calls[0].function | tojson(separators=(',', ':')) }}"
    "{%- else %}{{- m.content }}{%- endif %}{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
)

# Llama-3 with a default system prompt injected when the conversation has none
LLAMA3_DEFAULT_SYSTEM = Family(
    "llama3-default-system",
    "{{- bos_token }}"
    "{%- if messages[0].role != 'system' %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nYou are a helpful assistant.' }}"
    "{{- '<|eot_id|>' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% generation %}"
    "{{- m.content + '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}{{- " + _LLAMA3_HEADER + " + m.content + '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
    tools=False,
)

# Mistral Nemo (tekken): no spaces around [INST], system before the last user turn
MISTRAL_NEMO = Family(
    "mistral-nemo",
    "{%- if messages[0].role == 'system' %}{%- set system = messages[0].content %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}"
    "{%- endif %}{{- bos_token }}"
    "{%- for m in loop_messages %}"
    "{%- if m.role == 'user' %}"
    "{%- if loop.last or loop_messages[loop.index0 + 2:] | selectattr('role', 'equalto', 'user')"
    " | list | length == 0 %}"
    "{%- if system is defined %}{{- '[INST]' + system + '\\n\\n' + m.content + '[/INST]' }}"
    "{%- else %}{{- '[INST]' + m.content + '[/INST]' }}{%- endif %}"
    "{%- else %}{{- '[INST]' + m.content + '[/INST]' }}{%- endif %}"
    "{%- elif m.role == 'assistant' %}{% generation %}{{- m.content + eos_token }}"
    "{% endgeneration %}{%- endif %}{%- endfor %}",
    tools=False,
    unstable={"en_multi": 1, "zh_multi": 1},
)

# Gemma-style with a `model` role and an explicit end-of-sequence after the final answer
GEMMA2_EOS = Family(
    "gemma2-eos",
    _GEMMA.replace("FOLD", "{%- set first_user_prefix = messages[0].content + '\\n\\n' %}").replace(
        "{{- bos_token }}", "{{- '<bos>' }}"
    ),
    tools=False,
)

# InternLM2 chat with tool calls through <|action_start|>-like plugin markers (text here)
INTERNLM2_TOOLS = Family(
    "internlm2-tools",
    "{{- bos_token }}"
    "{%- if tools %}{{- '<|im_start|>system name=<|plugin|>\\n' + tools | tojson }}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{{- m.content }}{%- if m.tool_calls %}"
    "{{- '<|plugin|>\\n' + m.tool_calls[0].function | tojson }}{%- endif %}"
    "{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{{- '<|im_start|>environment name=<|plugin|>\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
)

# Yi-style ChatML with the assistant answer stripped of surrounding whitespace
YI_TRIM = Family(
    "yi-trim",
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{{- m.content | trim + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content | trim + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
    tools=False,
)

# Baichuan (first generation): Human/Assistant text roles
BAICHUAN = Family(
    "baichuan",
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}{{- m.content + '\\n' }}"
    "{%- elif m.role == 'user' %}{{- '<reserved_106>' + m.content + '\\n' }}"
    "{%- elif m.role == 'assistant' %}{{- '<reserved_107>' }}{% generation %}"
    "{{- m.content + '</s>' }}{% endgeneration %}{{- '\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<reserved_107>' }}{%- endif %}",
    tools=False,
)

# Command-R 08-2024 style with tool results as JSON documents
COMMAND_R_TOOLS = Family(
    "command-r-tools",
    _COMMAND_R.replace("<results>\\n' + m.content", "<results>\\n' + [m] | tojson"),
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        CHATML,
        YI,
        YI_TRIM,
        QWEN2_PLAIN,
        QWEN25,
        QWEN3,
        QWEN3_NOTHINK,
        MINIMIND,
        LLAMA2,
        LLAMA3,
        LLAMA3_DEFAULT_SYSTEM,
        LLAMA31,
        LLAMA31_EOM,
        LLAMA32,
        MISTRAL_V1,
        MISTRAL_V3,
        MISTRAL_V3_FIRST,
        MISTRAL_V7,
        MISTRAL_NEMO,
        GEMMA,
        GEMMA3,
        GEMMA2_EOS,
        PHI3,
        PHI4,
        PHI4_MINI,
        DEEPSEEK_V3,
        DEEPSEEK_R1,
        GLM4,
        CHATGLM3,
        CHATGLM2,
        INTERNLM2,
        INTERNLM2_TOOLS,
        BAICHUAN,
        BAICHUAN2,
        COMMAND_R,
        COMMAND_R_TOOLS,
        GRANITE,
        HERMES,
        MINICPM,
        VICUNA,
        ZEPHYR,
        OPENCHAT,
        COUNTDOWN,
        SYSTEM_LAST,
        SCHEMA_MACRO,
        CHATML_BOS_EOS,
        TOOL_JSON,
    )
}


def _conv(messages: list[dict[str, Any]], tools: bool = False) -> Sample:
    return Sample.from_dict({"messages": messages, **({"tools": [_TOOL]} if tools else {})})


_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询城市天气 / weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    },
}

FAMILY_CONVERSATIONS: dict[str, Sample] = {
    "single": _conv(
        [
            {"role": "system", "content": "You are a helpful assistant. 你是一个乐于助人的助手。"},
            {"role": "user", "content": "用一句话解释光合作用。"},
            {
                "role": "assistant",
                "content": "Plants turn light, water and CO2 into sugar: 光合作用。",
                "reasoning": "The user wants one sentence.",
            },
        ]
    ),
    "en_multi": _conv(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello world, how are you?"},
            {"role": "assistant", "content": "I am fine, thank you."},
            {"role": "user", "content": "What does the quick brown fox do?"},
            {"role": "assistant", "content": "It jumps over the lazy dog."},
            {"role": "user", "content": "And then?"},
            {"role": "assistant", "content": "Then it runs home.\nThe end."},
        ]
    ),
    "zh_multi": _conv(
        [
            {"role": "system", "content": "你是一个乐于助人的助手。"},
            {"role": "user", "content": "你好，世界！今天天气怎么样？"},
            {"role": "assistant", "content": "你好！今天天气很好。"},
            {"role": "user", "content": "我们去公园散步吧。"},
            {"role": "assistant", "content": "好的，我们走吧。"},
        ]
    ),
    "no_system": _conv(
        [
            {"role": "user", "content": "Say hello in Chinese."},
            {"role": "assistant", "content": "你好"},
            {"role": "user", "content": "谢谢! Now in English?"},
            {"role": "assistant", "content": "Hello."},
        ]
    ),
    "tools": _conv(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "北京的天气怎么样？"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "北京"}}],
            },
            {"role": "tool", "content": '{"temp": 21, "sky": "晴"}', "name": "get_weather"},
            {"role": "assistant", "content": "北京今天晴，21度。"},
        ],
        tools=True,
    ),
    "reasoning": _conv(
        [
            {"role": "user", "content": "What is six times seven?"},
            {
                "role": "assistant",
                "content": "The answer is 42.",
                "reasoning": "6*7=42, let me check: 7*6=42.",
            },
            {"role": "user", "content": "再加一呢？"},
            {"role": "assistant", "content": "43。", "reasoning": "42+1=43。"},
        ]
    ),
}


def conversations_for(family: Family) -> list[str]:
    """The conversations a family's template accepts (tools and system prompts as it supports)."""
    out = []
    for name, sample in FAMILY_CONVERSATIONS.items():
        if sample.tools and not family.tools:
            continue
        if not family.system and sample.messages[0].role == "system":
            continue
        out.append(name)
    return out
