"""Self-instruct's novelty filter: sftforge's ROUGE-L index against Google's ``rouge_score``.

The filter keeps a candidate instruction only if its ROUGE-L F1 to every kept instruction is
below 0.7 (Stanford Alpaca's ``generate_instruction.py`` does this with ``rouge_score``). Both
sides run the same sequential filter in one process, side by side in one run:

- English: pool = the 175 Stanford seed tasks, candidates = the first 1,500 Alpaca instructions.
- Chinese: pool = the first 100 LLaMA-Factory ``alpaca_zh_demo`` instructions, candidates = the
  next 400 plus 100 planted near-copies of pool instructions (one character changed), which a
  novelty filter must reject.

Reported: seconds, kept counts, agreement of the kept sets on English, and planted copies caught
on Chinese. Data: $SFTFORGE_DATA (default ../shared/data). The peer runs in its own venv:
$SFTFORGE_BENCH_ROUGE_VENV, else ``.bench-venvs/rouge_score`` (created with ``pip install
rouge-score``). Run: ``python bench/rouge_novelty_bench.py``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sftforge.generate.rouge import RougeIndex  # noqa: E402

DATA = Path(os.environ.get("SFTFORGE_DATA", str(SHARED_DATA)))
THRESHOLD = 0.7

PEER = r"""
import json, sys, time
from rouge_score import rouge_scorer
job = json.load(sys.stdin)
scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
start = time.perf_counter()
kept = [scorer._tokenizer.tokenize(t) for t in job["pool"]]
keep = []
for i, cand in enumerate(job["candidates"]):
    toks = scorer._tokenizer.tokenize(cand)
    if all(rouge_scorer._score_lcs(toks, k).fmeasure < job["threshold"] for k in kept):
        kept.append(toks)
        keep.append(i)
print(json.dumps({"seconds": time.perf_counter() - start, "kept": keep}))
"""


def peer_python() -> str:
    venv = Path(os.environ.get("SFTFORGE_BENCH_ROUGE_VENV", ROOT / ".bench-venvs" / "rouge_score"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "rouge-score"], check=True)
    return str(py)


def ours(pool: list[str], candidates: list[str]) -> tuple[float, list[int]]:
    start = time.perf_counter()
    index = RougeIndex()
    for t in pool:
        index.add(t)
    keep = []
    for i, cand in enumerate(candidates):
        if index.max_score(cand, stop_at=THRESHOLD) < THRESHOLD:
            index.add(cand)
            keep.append(i)
    return time.perf_counter() - start, keep


def peer(py: str, pool: list[str], candidates: list[str]) -> tuple[float, list[int]]:
    job = json.dumps({"pool": pool, "candidates": candidates, "threshold": THRESHOLD})
    out = subprocess.run([py, "-c", PEER], input=job, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout)
    return res["seconds"], res["kept"]


def main() -> None:
    seeds = [
        json.loads(x)["instruction"]
        for x in (DATA / "stanford_alpaca/seed_tasks.jsonl").read_text().splitlines()
        if x
    ]
    alpaca = [
        r["instruction"]
        for r in json.loads((DATA / "stanford_alpaca/alpaca_data.json").read_text())
    ]
    zh = [
        r["instruction"]
        for r in json.loads((DATA / "llama_factory/data/alpaca_zh_demo.json").read_text())
    ]
    rng = random.Random(0)
    zh_pool, zh_new = zh[:100], zh[100:500]
    planted = []
    for t in rng.sample(zh_pool, 100):
        k = rng.randrange(len(t))
        planted.append(t[:k] + "的" + t[k + 1 :])
    zh_cands = zh_new + planted
    py = peer_python()
    rows = []
    for name, pool, cands in (("English", seeds, alpaca[:1500]), ("Chinese", zh_pool, zh_cands)):
        t_ours, k_ours = ours(pool, cands)
        t_peer, k_peer = peer(py, pool, cands)
        caught = (
            f"{sum(1 for i in range(400, 500) if i not in k_ours)}/100 vs "
            f"{sum(1 for i in range(400, 500) if i not in k_peer)}/100"
            if name == "Chinese"
            else "-"
        )
        agree = len(set(k_ours) & set(k_peer)) / max(1, len(set(k_ours) | set(k_peer)))
        rows.append((name, len(cands), t_ours, t_peer, len(k_ours), len(k_peer), agree, caught))
    print(
        "| data | candidates | sftforge s | rouge_score s | kept (sftforge) | kept (rouge_score) | kept-set Jaccard | planted copies caught (sftforge vs rouge_score) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]} | {r[5]} | {r[6]:.3f} | {r[7]} |"
        )


if __name__ == "__main__":
    main()
