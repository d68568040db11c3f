"""The cleaning + dedup recipe on a local Ray against the local executor, in one run.

    python bench/ray_bench.py                        # the 52k Alpaca set
    python bench/ray_bench.py --records 1000000      # the 52k set grown with perturbed copies
                                                     # (bench/dedup_scale_data.py), 1M records

The recipe is ``pipeline_bench.RECIPE`` (clean HTML + whitespace + NFKC, length, special
characters, word repetition, exact dedup, MinHash dedup at 0.8). Each engine is the whole CLI
as a child process pinned to the same cores (``pipeline_bench.measure``: wall seconds from
process start, imports and Ray's start included; peak RSS summed over the process tree, and
the largest single process), ``--workers 2`` for both (the local Ray gets 2 CPUs). The outputs
and rejects of both engines are compared byte for byte; the shuffle volume of the Ray run's
dedup stages (the key columns written to parts) is read from its work folder sizes.

Data-Juicer on Ray is not run: it is not installed here (``SFTFORGE_BENCH_DJ_VENV`` names a
venv with py-data-juicer and ray when one is available; see pipeline_bench.py for its recipe).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_scale_data import generate
from pipeline_bench import ALPACA, RECIPE, ROOT, count_lines, measure

CLI = "import sys; from sftforge.cli.main import main; sys.exit(main())"


def run(engine: str, inp: Path, fmt: str, work: Path, workers: int, chunk: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    recipe = work / "recipe.yaml"
    recipe.write_text(RECIPE.format(input=inp, fmt=fmt, chunk=chunk), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), RAY_USAGE_STATS_ENABLED="0")
    cmd = [sys.executable, "-c", CLI, "run", str(recipe), "-o", str(work / "run")]
    cmd += ["--workers", str(workers), "--fresh", "--engine", engine]
    res = measure(cmd, env, work / "log.txt")
    if res["rc"] == 0:
        res["kept"] = count_lines(work / "run" / "train.jsonl")
        res["rejected"] = count_lines(work / "run" / "rejects.jsonl")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=0, help="grow the set to this many records")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "ray")
    args = ap.parse_args()
    args.out = args.out.resolve()  # the recipe names the input from its own folder
    args.out.mkdir(parents=True, exist_ok=True)
    if args.records:
        inp, fmt = args.out / f"alpaca_{args.records}.jsonl", "alpaca"
        if not inp.exists():
            generate(inp, args.records)
    else:
        inp, fmt = ALPACA, "alpaca"
    rows = {}
    for engine in ("local", "ray"):
        rows[engine] = run(engine, inp, fmt, args.out / engine, args.workers, args.chunk)
        print(engine, json.dumps(rows[engine]), flush=True)
        if rows[engine]["rc"] != 0:
            sys.exit(f"{engine} failed: see {args.out / engine / 'log.txt'}")
    same = all(
        filecmp.cmp(args.out / "local" / "run" / f, args.out / "ray" / "run" / f, shallow=False)
        for f in ("train.jsonl", "rejects.jsonl")
    )
    n = count_lines(inp) if inp.suffix == ".jsonl" else len(json.loads(inp.read_text("utf-8")))
    print(f"\n{n:,} records, --workers {args.workers}, chunk_size {args.chunk}")
    print("| engine | seconds | records/s | peak RSS, tree (MB) | largest process (MB) | kept |")
    print("|---|---:|---:|---:|---:|---:|")
    for engine, r in rows.items():
        print(
            f"| {engine} | {r['seconds']} | {n / r['seconds']:,.0f} | {r['peak_rss_mb']:,}"
            f" | {r['peak_proc_rss_mb']:,} | {r.get('kept', 'failed')} |"
        )
    ratio = rows["ray"]["seconds"] / rows["local"]["seconds"]
    print(f"\nray / local wall time: {ratio:.2f}x; outputs and rejects identical: {same}")
    print("Data-Juicer on Ray: not run (not installed on this machine)")


if __name__ == "__main__":
    main()
