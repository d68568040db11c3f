"""Near-duplicate quality of ``dedup_near`` against exact-Jaccard ground truth.

Data: 5,000 samples = 2,200 English (Stanford Alpaca) + 800 Chinese (LLaMA-Factory alpaca_zh_demo)
originals, plus 2,000 planted near-copies of random originals with 0.2-6% of their tokens edited
(substituted, deleted or inserted words; for Chinese, characters), so true similarities spread
on both sides of the 0.8 threshold. Data paths: $SFTFORGE_DATA (default ../shared/data).

Ground truth: every pair with exact Jaccard >= threshold of the same shingle sets the operator
uses, found by an exact all-pairs similarity join (prefix filtering, then exact verification),
then the same greedy rule as the operator (input order; a sample is a duplicate when a kept
earlier sample is similar enough). Reported:

- sample level: precision/recall of the set of dropped samples against the ground-truth set;
- pair level: the share of true similar pairs the LSH banding makes candidates (LSH recall).

    PYTHONPATH=src python bench/dedup_quality.py [--threshold 0.8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _shared import SHARED_DATA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sftforge.ops.dedup.minhash import band_buckets
from sftforge.ops.dedup.near import NearDedup
from sftforge.ops.dedup.text import shingle_hashes, tokens
from sftforge.sample import Message, Sample

DATA = Path(os.environ.get("SFTFORGE_DATA", str(SHARED_DATA)))


def load(n_en: int, n_zh: int, seed: int) -> list[str]:
    en = json.loads((DATA / "stanford_alpaca/alpaca_data.json").read_text("utf-8"))
    zh = json.loads((DATA / "llama_factory/data/alpaca_zh_demo.json").read_text("utf-8"))
    rng = random.Random(seed)
    texts = []
    for rows, n in ((en, n_en), (zh, n_zh)):
        for r in rng.sample(rows, n):
            texts.append("\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x))
    return texts


def plant(text: str, rng: random.Random) -> str:
    """Edit 0.2-6% of the tokens (CJK characters for Chinese, words otherwise): with 5-gram
    shingles each edit touches up to 5 shingles, so this spreads similarity over ~0.6-1.0."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff") > len(text) / 4
    units = list(text) if cjk else text.split()
    k = max(1, round(len(units) * rng.uniform(0.002, 0.06)))
    for _ in range(k):
        i = rng.randrange(len(units))
        new = chr(0x4E00 + rng.randrange(20000)) if cjk else f"w{rng.randrange(10**6)}"
        op = rng.random()
        if op < 0.6:
            units[i] = new
        elif op < 0.8 and len(units) > 1:
            del units[i]
        else:
            units.insert(i, new)
    return ("" if cjk else " ").join(units)


def truth(sets: list[np.ndarray], t: float) -> dict[int, dict[int, float]]:
    """All pairs with exact Jaccard >= t (prefix-filtered similarity join)."""
    freq: dict[int, int] = defaultdict(int)
    for s in sets:
        for h in s.tolist():
            freq[h] += 1
    index: dict[int, list[int]] = defaultdict(list)
    pairs: dict[int, dict[int, float]] = defaultdict(dict)
    py_sets = [set(s.tolist()) for s in sets]
    for j, s in enumerate(sets):
        ordered = sorted(s.tolist(), key=lambda h: (freq[h], h))
        prefix = ordered[: len(ordered) - math.ceil(t * len(ordered)) + 1]
        cands = {i for h in prefix for i in index[h]}
        for i in cands:
            a, b = py_sets[i], py_sets[j]
            jac = len(a & b) / len(a | b)
            if jac >= t:
                pairs[j][i] = jac
        for h in prefix:
            index[h].append(j)
    return pairs


def greedy_truth(n: int, pairs: dict[int, dict[int, float]], t: float) -> set[int]:
    kept: set[int] = set()
    dropped: set[int] = set()
    for j in range(n):
        if any(i in kept and s >= t for i, s in pairs.get(j, {}).items()):
            dropped.add(j)
        else:
            kept.add(j)
    return dropped


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not (DATA / "stanford_alpaca/alpaca_data.json").exists():
        sys.exit(f"data not found under {DATA}; set SFTFORGE_DATA")
    rng = random.Random(args.seed)
    texts = load(2200, 800, args.seed)
    texts += [plant(rng.choice(texts), rng) for _ in range(2000)]
    rng.shuffle(texts)
    samples = [
        Sample([Message("user", x), Message("assistant", "ok")], id=f"s{i}")
        for i, x in enumerate(texts)
    ]

    t0 = time.perf_counter()
    toks = [tokens(x) for x in texts]
    flat, off = shingle_hashes(toks, 5)
    sets = [np.unique(flat[off[i] : off[i + 1]]) for i in range(len(texts))]
    # join 0.1 below the threshold too, to count the near misses the operator must keep
    loose = truth(sets, args.threshold - 0.1)
    pairs = {j: {i: s for i, s in v.items() if s >= args.threshold} for j, v in loose.items()}
    want = greedy_truth(len(texts), pairs, args.threshold)
    n_pairs = sum(len(v) for v in pairs.values())
    sims = [s for v in loose.values() for s in v.values()]
    edges = [args.threshold - 0.1, args.threshold - 0.05, args.threshold, args.threshold + 0.05]
    hist = np.histogram(sims, bins=[*edges, args.threshold + 0.1, 1.0 + 1e-9])[0].tolist()
    labels = ["-0.10..-0.05", "-0.05..0", "0..+0.05", "+0.05..+0.10", "+0.10.."]
    zh = {i for i, x in enumerate(texts) if sum("\u4e00" <= c <= "\u9fff" for c in x) > len(x) / 4}
    result: dict[str, object] = {
        "samples": len(texts),
        "chinese_samples": len(zh),
        "threshold": args.threshold,
        "true_pairs": n_pairs,
        "true_duplicates": len(want),
        "pairs_by_similarity_to_threshold": dict(zip(labels, hist, strict=True)),
        "ground_truth_seconds": round(time.perf_counter() - t0, 2),
    }
    for verify in ("exact", "estimate"):
        op = NearDedup(view="prompt", threshold=args.threshold, verify=verify)
        rejects: list = []
        t1 = time.perf_counter()
        kept = list(op.run(lambda: iter(samples), rejects.append))
        secs = time.perf_counter() - t1
        got = {int(r.sample.id[1:]) for r in rejects}
        tp = len(got & want)
        row: dict[str, object] = {
            "precision": round(tp / len(got), 4) if got else 1.0,
            "recall": round(tp / len(want), 4) if want else 1.0,
            "dropped": len(got),
            "kept": len(kept),
            "seconds": round(secs, 2),
            "bands": op.n_bands,
            "rows": op.n_rows,
        }
        for lang, members in (("en", set(range(len(texts))) - zh), ("zh", zh)):
            g, w = got & members, want & members
            row[f"precision_{lang}"] = round(len(g & w) / len(g), 4) if g else 1.0
            row[f"recall_{lang}"] = round(len(g & w) / len(w), 4) if w else 1.0
        if verify == "exact":
            sig = np.concatenate([op._sig(toks[i : i + 2048]) for i in range(0, len(toks), 2048)])
            b = band_buckets(sig, op.n_bands, op.n_rows)
            hit = sum(
                bool(((b[i] == b[j]) & (b[i] >= 0)).any()) for j, v in pairs.items() for i in v
            )
            row["lsh_pair_recall"] = round(hit / n_pairs, 4) if n_pairs else 1.0
        result[verify] = row
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
