"""Per-operator throughput: our text operators against Data-Juicer's equivalents, same texts.

Usage: python bench/pipeline_ops_vs_datajuicer.py [--data PATH] [--limit N]

Both sides get the Alpaca records (``$SFTFORGE_ALPACA``, default the shared copy): ours as a
user/assistant Sample with ``targets: all``, Data-Juicer's as one text (prompt + answer), and
each operator runs alone, single process, over the whole set in batches of 1000 (Data-Juicer's
batched ``compute_stats_batched``/``process_batched`` API, called directly: no dataset, no
Ray, no caching). Loading and copying are not timed. Data-Juicer runs in its own virtual
environment: ``$SFTFORGE_BENCH_DJ_VENV``, else
``.bench-venvs/datajuicer`` (created here with ``py-data-juicer==1.6.1 aiohttp ftfy``).

This compares single operators; the end-to-end recipe comparison (with datatrove, dedup,
memory) is ``bench/`` 's pipeline benchmark.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _shared import SHARED_DATA

import sftforge.ops.clean
import sftforge.ops.filters
import sftforge.ops.pii  # noqa: F401  (register the operators)
from sftforge.ops.base import Filter, build_op
from sftforge.sample import Message, Sample

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = Path(
    os.environ.get("SFTFORGE_ALPACA", str(SHARED_DATA / "stanford_alpaca/alpaca_data.json"))
)
BATCH = 1000

# (label, our op and options, Data-Juicer class path and kwargs)
PAIRS: list[tuple[str, str, dict, str, dict]] = [
    ("html", "clean_html", {}, "mapper.CleanHtmlMapper", {}),
    ("whitespace", "normalize_whitespace", {}, "mapper.WhitespaceNormalizationMapper", {}),
    ("unicode", "normalize_unicode", {}, "mapper.FixUnicodeMapper", {}),
    ("urls", "remove_urls", {}, "mapper.CleanLinksMapper", {}),
    ("email", "redact_pii", {"kinds": ["email"]}, "mapper.CleanEmailMapper", {}),
    ("ip", "redact_pii", {"kinds": ["ip"]}, "mapper.CleanIpMapper", {}),
    ("length", "length_filter", {"min": 10, "max": 10000}, "filter.TextLengthFilter",
     {"min_len": 10, "max_len": 10000}),
    ("special chars", "special_char_filter", {"max": 0.25}, "filter.SpecialCharactersFilter",
     {"max_ratio": 0.25}),
    ("alnum ratio", "char_ratio_filter", {"kind": "alnum", "min": 0.25},
     "filter.AlphanumericFilter", {"min_ratio": 0.25}),
    ("word repetition", "word_repetition_filter", {"max": 0.5}, "filter.WordRepetitionFilter",
     {"rep_len": 10, "max_ratio": 0.5}),
    ("char repetition", "char_repetition_filter", {"max": 0.5},
     "filter.CharacterRepetitionFilter", {"rep_len": 10, "max_ratio": 0.5}),
]  # fmt: skip

DJ_SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, time
    from data_juicer.utils.constant import Fields
    texts = json.load(open(sys.argv[1], encoding="utf-8"))
    BATCH = int(sys.argv[3])
    pairs = json.loads(sys.argv[2])
    out = {}
    for label, path, kwargs in pairs:
        kind, cls = path.split(".")
        op = getattr(importlib.import_module("data_juicer.ops." + kind), cls)(**kwargs)
        kept = 0
        start = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            batch = {"text": list(texts[i:i + BATCH])}
            if kind == "filter":
                batch[Fields.stats] = [{} for _ in batch["text"]]
                batch = op.compute_stats_batched(batch)
                kept += sum(1 for k in op.process_batched(batch) if k)
            else:
                op.process_batched(batch)
        out[label] = (time.perf_counter() - start, kept)
    print(json.dumps(out))
    """
)


def dj_python() -> Path:
    env = os.environ.get("SFTFORGE_BENCH_DJ_VENV")
    venv = Path(env) if env else ROOT / ".bench-venvs" / "datajuicer"
    if not (venv / "bin" / "python").exists():
        venv = ROOT / ".bench-venvs" / "datajuicer"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "py-data-juicer==1.6.1", "aiohttp", "ftfy"], check=True)
    return venv / "bin" / "python"


def load(path: Path, limit: int | None) -> list[tuple[str, str]]:
    rows = json.loads(path.read_text(encoding="utf-8"))[:limit]
    return [
        (r["instruction"] + ("\n\n" + r["input"] if r.get("input") else ""), r["output"])
        for r in rows
    ]


def run_ours(pairs: list[tuple[str, str]]) -> dict[str, tuple[float, int]]:
    base = [Sample([Message("user", p), Message("assistant", a)]) for p, a in pairs]
    out = {}
    for label, name, opts, _, _ in PAIRS:
        samples = copy.deepcopy(base)
        op = build_op(name, opts)
        kept = 0
        start = time.perf_counter()
        for i in range(0, len(samples), BATCH):
            res = op.apply(samples[i : i + BATCH])
            kept += len(res[0]) if isinstance(op, Filter) else 0
        out[label] = (time.perf_counter() - start, kept)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    if not args.data.is_file():
        print(f"no data at {args.data}; set SFTFORGE_ALPACA", file=sys.stderr)
        return 1
    pairs = load(args.data, args.limit)
    texts_file = ROOT / "bench" / "out" / "dj_texts.json"
    texts_file.parent.mkdir(parents=True, exist_ok=True)
    texts_file.write_text(json.dumps([p + "\n" + a for p, a in pairs], ensure_ascii=False))
    ours = run_ours(pairs)
    spec = json.dumps([(label, path, kw) for label, _, _, path, kw in PAIRS])
    proc = subprocess.run(
        [str(dj_python()), "-c", DJ_SCRIPT, str(texts_file), spec, str(BATCH)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    n = len(pairs)
    print(f"{n} Alpaca records, single process, batches of {BATCH}")
    print(f"{'operation':16s} {'sftforge/s':>11s} {'DJ/s':>9s} {'ratio':>6s}  kept (ours / DJ)")
    for label, *_ in PAIRS:
        (s_ours, k_ours), (s_dj, k_dj) = ours[label], theirs[label]
        kept = f"{k_ours} / {k_dj}" if k_ours or k_dj else "-"
        print(f"{label:16s} {n / s_ours:11,.0f} {n / s_dj:9,.0f} {s_dj / s_ours:6.1f}x  {kept}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
