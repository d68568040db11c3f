"""JSON answers: pull the JSON out of a reply, repair common damage, check it against a schema.

Repairs, in order, each tried only when the text does not parse yet: strip Markdown code fences;
cut the text to the outermost ``{...}``/``[...]`` (models add prose around it); drop trailing
commas; turn single-quoted strings and Python's ``True/False/None`` into JSON; finally Python
literal syntax. After parsing, numbers and booleans sent as strings are coerced where the schema
wants them. The validator covers the JSON-schema subset our prompts use: ``type`` (one or a list),
``properties``, ``required``, ``additionalProperties: false``, ``items``, ``enum``, ``minimum``,
``maximum``, ``minLength``, ``maxLength``, ``minItems``, ``maxItems``.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["JSONOutputError", "parse_json_output", "repair_json_text", "validate_schema"]


class JSONOutputError(ValueError):
    """The reply holds no JSON we can read, or it breaks the schema."""


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_WORDS = {"True": "true", "False": "false", "None": "null"}


def _outermost(text: str) -> str:
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    close = "}" if text[start] == "{" else "]"
    end = text.rfind(close)
    return text[start : end + 1] if end > start else text[start:]


def _requote(text: str) -> str:
    """Single-quoted strings to double-quoted and Python constants to JSON, outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j : j + 2])
                    j += 2
                    continue
                buf.append('\\"' if text[j] == '"' else text[j])
                j += 1
            body = "".join(buf)
            if ch == "'":
                body = body.replace("\\'", "'")
            out.append('"' + body + '"')
            i = j + 1
            continue
        m = re.match(r"True|False|None", text[i:])
        if m and (i == 0 or not text[i - 1].isalnum()):
            out.append(_PY_WORDS[m.group(0)])
            i += len(m.group(0))
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def repair_json_text(text: str) -> Any:
    """Parse ``text`` as JSON, repairing it step by step; raise ``JSONOutputError`` if hopeless."""
    candidates: list[str] = []
    fenced = _FENCE.search(text)
    base = fenced.group(1) if fenced else text
    candidates.append(base.strip())
    cut = _outermost(base)
    candidates.append(cut)
    no_commas = _TRAILING_COMMA.sub(r"\1", cut)
    candidates.append(no_commas)
    candidates.append(_TRAILING_COMMA.sub(r"\1", _requote(cut)))
    for cand in candidates:
        try:
            return json.loads(cand)
        except ValueError:
            continue
    try:
        value = ast.literal_eval(no_commas)
        if isinstance(value, (dict, list)):
            return value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    raise JSONOutputError(f"no readable JSON in the reply: {text[:120]!r}")


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in ("number", "integer") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    if isinstance(value, str) and ({"number", "integer"} & set(names)):
        try:
            num = float(value.strip())
            return int(num) if num.is_integer() and "integer" in names else num
        except ValueError:
            return value
    if isinstance(value, str) and names == ["boolean"]:
        flag = {"true": True, "yes": True, "false": False, "no": False}.get(value.strip().lower())
        return value if flag is None else flag
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        return {k: _coerce(v, props[k]) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"]) for v in value]
    return value


def validate_schema(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Problems with ``value`` against ``schema`` (the subset above); empty when it conforms."""
    errs: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, t) for t in names):
            return [f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errs.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                errs.extend(validate_schema(v, schema["items"], f"{path}[{i}]"))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errs.extend(f"{path}: missing '{k}'" for k in schema.get("required", []) if k not in value)
        if schema.get("additionalProperties") is False:
            errs.extend(f"{path}: unexpected key '{k}'" for k in value if k not in props)
        for k, v in value.items():
            if k in props:
                errs.extend(validate_schema(v, props[k], f"{path}.{k}"))
    return errs


def parse_json_output(text: str, schema: dict[str, Any] | None = None) -> Any:
    """The JSON value in a reply, repaired and (with ``schema``) coerced and validated."""
    value = repair_json_text(text)
    if schema is None:
        return value
    value = _coerce(value, schema)
    errs = validate_schema(value, schema)
    if errs:
        raise JSONOutputError("the JSON breaks the schema: " + "; ".join(errs[:5]))
    return value
