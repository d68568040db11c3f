"""Template + tokenize + mask speed, and packing utilisation, with the minimind tokenizer.

    PYTHONPATH=src python bench/tokenize_bench.py [--data /work/shared/data] [--max-len 2048]

Data: the 52k Stanford Alpaca set and LLaMA-Factory's demo sets (alpaca-style and multi-turn
sharegpt with tool calls), converted to Samples by the small readers below (the bench reads the
raw files itself so it does not depend on the format modules). Three ways are timed on the same
samples: sftforge's batched native path (``tokenize_samples``), the same path one sample per
encode call, and transformers' ``apply_chat_template(..., return_assistant_tokens_mask=True)``
per sample, whose ids and labels are also checked equal to ours on every sample. Prints a
Markdown table and writes JSON next to it with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

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


def timed(fn: Any) -> tuple[Any, float]:
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    try:
        return fn(), time.perf_counter() - start
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--tokenizer", default="/work/shared/data/tokenizers/minimind")
    ap.add_argument("--template", default="qwen2.5")
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    root = Path(args.data)
    if not (root / "stanford_alpaca").is_dir() or not Path(args.tokenizer).is_dir():
        print(f"data or tokenizer missing under {root}; nothing to measure", file=sys.stderr)
        return 0
    tok = load_tokenizer(args.tokenizer)
    template = get_template(args.template)
    chat = ChatTokenizer(tok, template)
    results = []
    for name, samples in datasets(root).items():
        res, t_batched = timed(lambda s=samples: tokenize_samples(s, chat, role_stats=False))
        _, t_single = timed(
            lambda s=samples: tokenize_samples(s, chat, batch_size=1, role_stats=False)
        )
        ref, t_hf = timed(lambda s=samples: hf_baseline(tok, template.source, s))
        ours = {r.id: (r.input_ids, r.labels) for r in res.rows}
        same = sum(1 for s, pair in zip(samples, ref, strict=True) if ours.get(s.id) == pair)
        tokens = res.stats.tokens
        results.append(
            {
                "dataset": name,
                "samples": len(samples),
                "rows": len(res.rows),
                "rejected": len(res.rejects),
                "tokens": tokens,
                "batched_s": round(t_batched, 3),
                "per_sample_s": round(t_single, 3),
                "hf_apply_chat_template_s": round(t_hf, 3),
                "samples_per_s": round(len(samples) / t_batched),
                "tokens_per_s": round(tokens / t_batched),
                "speedup_vs_hf": round(t_hf / t_batched, 2),
                "identical_to_hf": same,
            }
        )
    alpaca_rows = tokenize_samples(datasets(root)["alpaca_52k"], chat, role_stats=False).rows
    fit = [r for r in alpaca_rows if len(r.input_ids) <= args.max_len]
    (_, pack_stats), t_pack = timed(lambda: pack_rows(fit, args.max_len))
    _print(results, pack_stats.to_dict(), t_pack, args)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"tokenize": results, "pack": pack_stats.to_dict()}, indent=2)
        )
    return 0


def _print(results: list[dict[str, Any]], pack: dict[str, Any], t_pack: float, args: Any) -> None:
    print(f"tokenizer {args.tokenizer}, template {args.template}")
    print(
        "| dataset | samples | tokens | sftforge batched s | samples/s | tokens/s | one-by-one s "
        "| HF apply_chat_template s | speed-up | identical to HF |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['dataset']} | {r['samples']} | {r['tokens']} | {r['batched_s']} | {r['samples_per_s']} "
            f"| {r['tokens_per_s']} | {r['per_sample_s']} | {r['hf_apply_chat_template_s']} "
            f"| {r['speedup_vs_hf']}x | {r['identical_to_hf']}/{r['samples']} |"
        )
    print(
        f"\npacking alpaca_52k at {pack['max_len']}: {pack['samples']} samples -> {pack['bins']} rows, "
        f"utilisation {pack['utilisation']:.4%} ({t_pack:.2f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
