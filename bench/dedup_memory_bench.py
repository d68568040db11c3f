"""Dedup at scale: the whole ``sftforge run`` (exact + near dedup) as a process, peak memory per size.

    python bench/dedup_memory_bench.py --scales 1 8            # 52k and 416k records
    python bench/dedup_memory_bench.py --scales 1 8 --budget 64   # force the spill path
    mkdir -p .bench-base && git archive BASE src | tar -x -C .bench-base && \
    python bench/dedup_memory_bench.py --scales 1 8 --baseline .bench-base/src   # side by side

For each scale: ``bench/dedup_scale_data.py`` writes the synthetic set (the 52k Alpaca set and
perturbed copies: exact, near and new records), then ``/usr/bin/time`` runs the recipe
(``dedup_exact`` + ``dedup_near`` at Jaccard 0.8, 5-word shingles) file to file. Printed per size:
wall seconds, CPU seconds (user + sys, all processes: the machine is shared), peak RSS of the
largest process (the parent: it holds the keys) and bytes of it per record, the parent's peak
after each stage (from the run's report) and the near-dedup stage's seconds from the run's log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from dedup_scale_data import generate  # noqa: E402

RECIPE = """\
cache: false
{budget}inputs:
  - path: {data}
    format: alpaca
steps:
  - dedup_exact: {{}}
  - dedup_near: {{threshold: 0.8, ngram: 5}}
outputs:
  train: {{format: alpaca, path: train.jsonl}}
"""


def run_one(
    work: Path, scale: float, budget: int | None, src: Path, name: str
) -> dict[str, object]:
    records = round(scale * 52002)
    data = work / f"x{scale:g}.jsonl"
    if not data.exists():
        generate(data, records)
    recipe = work / f"recipe-x{scale:g}.yaml"
    # no --budget: the setting is left out (a baseline without it reads the recipe)
    line = "" if budget is None else f"memory_budget_mb: {budget}\n"
    recipe.write_text(RECIPE.format(budget=line, data=data), encoding="utf-8")
    out = work / f"out-x{scale:g}-{name}"
    shutil.rmtree(out, ignore_errors=True)
    sftforge = Path(sys.executable).with_name("sftforge")
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", str(sftforge), "run", str(recipe)]
    proc = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    wall, user, sys_s, rss = re.findall(r"TIME (\S+) (\S+) (\S+) (\d+)", proc.stderr)[-1]
    near = re.findall(r"\(dedup_near\): .*?, ([\d.]+) s", proc.stderr)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return {
        "records": records,
        "wall_s": float(wall),
        "cpu_s": round(float(user) + float(sys_s), 1),
        "peak_rss_mb": round(int(rss) / 1024),
        "bytes_per_record": round(int(rss) * 1024 / records),
        "near_stage_s": float(near[-1]) if near else None,
        # the main process's peak after each stage (read, exact, near): where its memory goes
        "stage_peak_mb": [s["peak_rss_mb"] for s in report["stages"]],
        "kept": report["counts"]["kept"],
        "rejected": report["counts"]["rejected"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 8])
    ap.add_argument(
        "--budget", type=int, default=None, help="memory_budget_mb (default: the tree's)"
    )
    ap.add_argument("--work", type=Path, default=None, help="keep the data here")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another sftforge src/ folder (e.g. from git archive) run alternately with this one",
    )
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sftforge-dedupmem-"))
    work.mkdir(parents=True, exist_ok=True)
    trees = [("this", ROOT / "src")] + ([("baseline", args.baseline)] if args.baseline else [])
    for scale in args.scales:
        for name, src in trees:
            row = run_one(work, scale, args.budget, src, name)
            if name == "baseline":  # the same kept records and rejects, byte for byte
                row["identical_outputs"] = all(
                    (work / f"out-x{scale:g}-this" / f).read_bytes()
                    == (work / f"out-x{scale:g}-baseline" / f).read_bytes()
                    for f in ("train.jsonl", "rejects.jsonl")
                )
            print(json.dumps({"tree": name, "scale": scale, **row}), flush=True)


if __name__ == "__main__":
    main()
