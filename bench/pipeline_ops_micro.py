"""Throughput of each text operator on the 52k Alpaca set (single process, in memory).

Usage: python bench/pipeline_ops_micro.py [--data PATH] [--limit N] [--ops a,b,c]

Reads ``alpaca_data.json`` (``$SFTFORGE_ALPACA`` or ``../shared/data/stanford_alpaca``),
turns each record into a user/assistant Sample, then times every operator alone over a fresh
copy of the samples. Prints samples/s per operator; parsing and copying are not timed.
This measures our operators only; the side-by-side comparison with Data-Juicer and datatrove
is the pipeline benchmark's job.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

from _shared import SHARED_DATA

import sftforge.ops.clean
import sftforge.ops.filters
import sftforge.ops.pii
import sftforge.ops.standardize  # noqa: F401  (register the operators)
from sftforge.ops.base import Filter, Mapper, build_op
from sftforge.sample import Message, Sample

DEFAULT = Path(
    os.environ.get("SFTFORGE_ALPACA", str(SHARED_DATA / "stanford_alpaca/alpaca_data.json"))
)
STEPS: list[tuple[str, dict]] = [
    ("remove_control_chars", {}),
    ("fix_mojibake", {}),
    ("clean_html", {}),
    ("remove_urls", {}),
    ("remove_boilerplate", {}),
    ("normalize_unicode", {}),
    ("normalize_whitespace", {}),
    ("convert_chinese", {}),
    ("extract_think", {}),
    ("clean", {}),
    ("standardize_dates", {}),
    ("standardize_times", {}),
    ("standardize_currency", {}),
    ("standardize_units", {}),
    ("redact_pii", {}),
    ("length_filter", {"min": 1}),
    ("turns_filter", {"min": 1}),
    ("empty_answer_filter", {}),
    ("char_repetition_filter", {}),
    ("word_repetition_filter", {}),
    ("special_char_filter", {}),
    ("char_ratio_filter", {"kind": "alnum", "min": 0.25}),
    ("refusal_filter", {}),
    ("flagged_words_filter", {}),
    ("language_filter", {"allowed": ["en"]}),
    ("pii_filter", {}),
]


def load(path: Path, limit: int | None) -> list[Sample]:
    rows = json.loads(path.read_text(encoding="utf-8"))[:limit]
    out = []
    for r in rows:
        prompt = r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")
        out.append(Sample([Message("user", prompt), Message("assistant", r["output"])]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--ops", default="")
    args = ap.parse_args()
    if not args.data.is_file():
        print(f"no data at {args.data}; set SFTFORGE_ALPACA", file=sys.stderr)
        return 1
    samples = load(args.data, args.limit)
    wanted = set(args.ops.split(",")) if args.ops else None
    print(f"{len(samples)} samples from {args.data}")
    print(f"{'operator':26s} {'samples/s':>12s} {'seconds':>8s}  result")
    for name, opts in STEPS:
        if wanted and name not in wanted:
            continue
        batch = copy.deepcopy(samples)
        op = build_op(name, opts)
        start = time.perf_counter()
        if isinstance(op, Filter):
            kept, rejects = op.apply(batch)
            result = f"kept {len(kept)}, dropped {len(rejects)}"
        else:
            assert isinstance(op, Mapper)
            op.apply(batch)
            result = ", ".join(f"{k}={v}" for k, v in sorted(op.counters.extra.items())) or "-"
        secs = time.perf_counter() - start
        print(f"{name:26s} {len(batch) / secs:12,.0f} {secs:8.2f}  {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
