"""The message keys axolotl passes on to a chat template beyond its ``message_property_mappings``.

axolotl 0.19 (``prompt_strategies/jinja_template_analyzer.py``, ``JinjaTemplateAnalyzer
.get_message_vars``) parses the template and collects the properties read from the messages; a
message key that is not mapped is handed to the template only when it is in that set. What the
analyzer really returns, followed here step by step: the properties read on a variable literally
called ``message`` (``message.tool_calls``, ``message['reasoning_content']``, and every attribute
further down such a chain, ``message.tool_calls[0].function`` adding ``function``), plus, in one
corner case (a ``messages[...]`` index and a variable called ``messages_slice``), what is read on
``messages_slice`` and the variables assigned from it. Its search from ``messages`` itself runs
before it has visited the template, so it finds nothing else. A loop written ``for m in messages``
therefore passes no extra key (the export maps the keys it writes, so they reach such a template).

The template is only parsed (in a sandboxed environment, as every template in sftforge), never run.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["template_message_vars"]


class _GenerationTagIgnore(Extension):
    """axolotl's parser skips ``{% generation %}``/``{% endgeneration %}`` tags."""

    tags = {"generation", "endgeneration"}  # noqa: RUF012 - jinja2 declares it a set

    def parse(self, parser: Any) -> nodes.Node:
        parser.stream.skip(1)
        return nodes.Const("")


def _base(node: nodes.Node) -> str | None:
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def template_message_vars(template: str) -> set[str]:
    """The message keys axolotl 0.19 keeps for ``template`` when they are not mapped."""
    env = ImmutableSandboxedEnvironment(
        autoescape=True, extensions=[_GenerationTagIgnore, "jinja2.ext.loopcontrols"]
    )
    ast = env.parse(template)
    props: dict[str, set[str]] = {}
    indices: dict[str, set[Any]] = {}
    loops: dict[str, str] = {}  # loop target -> iterated variable
    assigned: dict[str, str] = {}  # assigned name -> the variable it comes from
    for node in _walk(ast):
        if isinstance(node, nodes.Getattr):
            name = _base(node.node)
            if name:
                props.setdefault(name, set()).add(node.attr)
        elif isinstance(node, nodes.Getitem):
            name = _base(node.node)
            if name and isinstance(node.arg, nodes.Const):
                value = node.arg.value
                target = indices if isinstance(value, (int, float)) else props
                target.setdefault(name, set()).add(value)
        elif isinstance(node, nodes.For):
            source = _base(node.iter)
            if isinstance(node.target, nodes.Name) and source:
                loops[node.target.name] = source
                props.setdefault(source, set())
        elif isinstance(node, nodes.Assign):
            source = _base(node.node)
            if isinstance(node.target, nodes.Name) and source:
                assigned[node.target.name] = source
        elif isinstance(node, nodes.Filter) and node.name == "selectattr":
            source = _base(node.node) if node.node is not None else None
            if source:
                assigned[f"filtered_{source}"] = source
    found = set(props.get("message", set()))
    if indices.get("messages") and "messages_slice" in props:
        found |= _downstream("messages_slice", props, loops, assigned)
    return {str(p) for p in found}


def _downstream(
    start: str, props: dict[str, set[str]], loops: dict[str, str], assigned: dict[str, str]
) -> set[str]:
    """What axolotl's ``get_downstream_properties`` gathers from ``start`` once the template has
    been visited: its properties, then those of the variable it loops as, and of the variables
    assigned from it."""
    seen: set[str] = set()
    out: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        out |= props.get(name, set())
        if name in loops:
            todo.append(loops[name])
        todo += [target for target, source in assigned.items() if source == name]
    return out


def _walk(node: nodes.Node) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.iter_child_nodes())
