"""A reference, not a tool: the stdlib script's conversion with orjson and no checks.

    python bench/orjson_convert.py IN OUT

On a small input its whole run is about the least a converter built on orjson can take: the
interpreter, orjson's import (which brings in dataclasses, uuid, datetime and enum) and the loop.
It holds the whole input and output in memory (no streaming).
"""

import sys

import orjson

ROLES = {"user": "human", "assistant": "gpt", "tool": "observation"}


def sharegpt(rec):
    if "instruction" in rec:
        prompt = "\n".join(x for x in (rec["instruction"], rec["input"]) if x)
        return {"conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": rec["output"]}]}  # fmt: skip
    turns, extra = [], {}
    for m in rec["messages"]:
        if m["role"] == "system":
            extra["system"] = m["content"]
        for call in m.get("tool_calls") or ():
            f = call["function"]
            value = orjson.dumps({"name": f["name"], "arguments": orjson.loads(f["arguments"])})
            turns.append({"from": "function_call", "value": value.decode()})
        if m["role"] != "system" and (m["content"] or not m.get("tool_calls")):
            turns.append({"from": ROLES[m["role"]], "value": m["content"]})
    if rec.get("tools"):
        extra["tools"] = orjson.dumps([t["function"] for t in rec["tools"]]).decode()
    return {"conversations": turns, **extra}


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as src:
        records = orjson.loads(src.read()) if sys.argv[1].endswith(".json") else map(orjson.loads, src)  # fmt: skip
        out = [orjson.dumps(sharegpt(rec)) for rec in records]
    with open(sys.argv[2], "wb") as dst:
        dst.write(b"\n".join(out) + b"\n")
