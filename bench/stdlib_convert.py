"""The yardstick: OpenAI JSONL or Alpaca JSON -> ShareGPT JSONL with nothing but the json module.

python bench/stdlib_convert.py IN OUT
"""

import json
import sys

ROLES = {"user": "human", "assistant": "gpt", "tool": "observation"}


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sharegpt(rec):
    if "instruction" in rec:  # Alpaca: the prompt is the instruction, a newline and the input
        prompt = "\n".join(x for x in (rec["instruction"], rec["input"]) if x)
        return {
            "conversations": [
                {"from": "human", "value": prompt},
                {"from": "gpt", "value": rec["output"]},
            ]
        }
    turns, system = [], {}
    for m in rec["messages"]:
        if m["role"] == "system":
            system = {"system": m["content"]}
        for call in m.get("tool_calls") or ():
            f = call["function"]
            turns.append(
                {
                    "from": "function_call",
                    "value": dumps({"name": f["name"], "arguments": json.loads(f["arguments"])}),
                }
            )
        if m["role"] != "system" and (m["content"] or not m.get("tool_calls")):
            turns.append({"from": ROLES[m["role"]], "value": m["content"]})
    tools = {"tools": dumps([t["function"] for t in rec["tools"]])} if rec.get("tools") else {}
    return {"conversations": turns, **system, **tools}


if __name__ == "__main__":
    with (
        open(sys.argv[1], encoding="utf-8") as src,
        open(sys.argv[2], "w", encoding="utf-8") as out,
    ):
        records = json.load(src) if sys.argv[1].endswith(".json") else map(json.loads, src)
        for rec in records:
            out.write(dumps(sharegpt(rec)) + "\n")
