"""Template + tokenize + mask speed, and packing utilisation, with the minimind tokenizer.

    PYTHONPATH=src python bench/tokenize_bench.py [--data ../shared/data] [--max-len 2048]

Data: the 52k Stanford Alpaca set and LLaMA-Factory's demo sets (alpaca-style and multi-turn
sharegpt with tool calls), converted to Samples by the small readers below (the bench reads the
raw files itself so it does not depend on the format modules). Three ways are timed on the same
samples: sftforge's batched native path (``tokenize_samples``) and transformers'
``apply_chat_template(..., return_assistant_tokens_mask=True)`` per sample, whose ids and labels
are also checked equal to ours on every sample. Wall and CPU seconds (all threads of the process)
are both reported: on a shared machine the CPU figure is the stable one. Prints a Markdown table
and writes JSON with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

from sftforge.chat import ChatTokenizer, get_template, load_tokenizer, pack_rows, tokenize_samples
from sftforge.chat.render import message_dicts
from sftforge.sample import Message, Sample, ToolCall

ROLE = {"human": "user", "gpt": "assistant", "system": "system", "observation": "tool"}


def alpaca(path: Path) -> list[Sample]:
    out = []
    for r in json.loads(path.read_text(encoding="utf-8")):
        msgs = [Message("system", r["system"])] if r.get("system") else []
        prompt = (r["instruction"] + "\n" + r.get("input", "")).strip()
        msgs += [Message("user", prompt), Message("assistant", r["output"])]
        out.append(Sample(msgs))
    return out


def sharegpt(path: Path) -> list[Sample]:
    out = []
    for r in json.loads(path.read_text(encoding="utf-8")):
        msgs: list[Message] = []
        for turn in r["conversations"]:
            role = turn["from"]
            if role == "function_call":
                call = json.loads(turn["value"])
                args = call.get("arguments") or {}
                args = json.loads(args) if isinstance(args, str) else args
                msgs.append(Message("assistant", "", tool_calls=[ToolCall(call["name"], args)]))
            else:
                msgs.append(Message(ROLE[role], turn["value"]))  # type: ignore[arg-type]
        tools = r.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) and tools else None
        out.append(
            Sample(
                msgs, tools=[{"type": "function", "function": t} for t in tools] if tools else None
            )
        )
    return out


def datasets(root: Path) -> dict[str, list[Sample]]:
    lf = root / "llama_factory" / "data"
    sets = {"alpaca_52k": alpaca(root / "stanford_alpaca" / "alpaca_data.json")}
    for name in ("alpaca_en_demo", "alpaca_zh_demo", "identity"):
        sets[name] = alpaca(lf / f"{name}.json")
    for name in ("glaive_toolcall_en_demo", "glaive_toolcall_zh_demo"):
        sets[name] = sharegpt(lf / f"{name}.json")
    return sets


def timed(fn: Any) -> tuple[Any, float, float]:
    """Result, wall seconds, CPU seconds (all threads)."""
    gc.collect()
    gc.disable()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        out = fn()
        return out, time.perf_counter() - start, time.process_time() - cpu
    finally:
        gc.enable()


def hf_baseline(
    tok: Any, template_src: str, samples: list[Sample]
) -> list[tuple[list[int], list[int]]]:
    out = []
    for s in samples:
        enc = tok.apply_chat_template(
            message_dicts(s),
            tools=s.tools,
            chat_template=template_src,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids = list(enc["input_ids"])
        out.append(
            (ids, [t if m else -100 for t, m in zip(ids, enc["assistant_masks"], strict=True)])
        )
    return out


def measure(
    name: str, samples: list[Sample], chat: ChatTokenizer, template_src: str
) -> dict[str, Any]:
    res, wall, cpu = timed(lambda: tokenize_samples(samples, chat, role_stats=False))
    ref, hf_wall, hf_cpu = timed(lambda: hf_baseline(chat.tokenizer, template_src, samples))
    ours = {r.id: (r.input_ids, r.labels) for r in res.rows}
    same = sum(1 for s, pair in zip(samples, ref, strict=True) if ours.get(s.id) == pair)
    tokens = res.stats.tokens
    return {
        "dataset": name,
        "samples": len(samples),
        "rows": len(res.rows),
        "rejected": len(res.rejects),
        "tokens": tokens,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "hf_wall_s": round(hf_wall, 3),
        "hf_cpu_s": round(hf_cpu, 3),
        "samples_per_cpu_s": round(len(samples) / cpu),
        "tokens_per_cpu_s": round(tokens / cpu),
        "speedup_wall": round(hf_wall / wall, 2),
        "speedup_cpu": round(hf_cpu / cpu, 2),
        "identical_to_hf": same,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(SHARED_DATA))
    ap.add_argument("--tokenizer", default=str(SHARED_DATA / "tokenizers/minimind"))
    ap.add_argument("--template", default="qwen2.5")
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    root = Path(args.data)
    if not (root / "stanford_alpaca").is_dir() or not Path(args.tokenizer).is_dir():
        print(f"data or tokenizer missing under {root}; nothing to measure", file=sys.stderr)
        return 0
    template = get_template(args.template)
    chat = ChatTokenizer(load_tokenizer(args.tokenizer), template)
    print(f"tokenizer {args.tokenizer}, template {args.template}")
    print(
        "| dataset | samples | tokens | sftforge wall / CPU s | samples per CPU s | tokens per CPU s "
        "| HF apply_chat_template wall / CPU s | speed-up wall / CPU | identical to HF |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    sets = datasets(root)
    for name, samples in sets.items():
        r = measure(name, samples, chat, template.source)
        results.append(r)
        print(
            f"| {name} | {r['samples']} | {r['tokens']} | {r['wall_s']} / {r['cpu_s']} "
            f"| {r['samples_per_cpu_s']} | {r['tokens_per_cpu_s']} | {r['hf_wall_s']} / {r['hf_cpu_s']} "
            f"| {r['speedup_wall']}x / {r['speedup_cpu']}x | {r['identical_to_hf']}/{r['samples']} |"
        )
    rows = tokenize_samples(sets["alpaca_52k"], chat, role_stats=False).rows
    fit = [r for r in rows if len(r.input_ids) <= args.max_len]
    (_, pack), wall, _ = timed(lambda: pack_rows(fit, args.max_len))
    p = pack.to_dict()
    print(
        f"\npacking alpaca_52k at {p['max_len']}: {p['samples']} samples -> {p['bins']} rows, "
        f"utilisation {p['utilisation']:.4%} ({wall:.2f} s)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"tokenize": results, "pack": p}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
