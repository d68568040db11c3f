"""The cleaning + dedup recipe on a local Ray against the local executor, in one run.

    python bench/ray_bench.py [--rounds 2]           # the 52k Alpaca set
    python bench/ray_bench.py --records 1000000      # the 52k set grown with perturbed copies
                                                     # (bench/dedup_scale_data.py), 1M records

The recipe is ``pipeline_bench.RECIPE`` (clean HTML + whitespace + NFKC, length, special
characters, word repetition, exact dedup, MinHash dedup at 0.8). Each engine is the whole CLI
as a child process pinned to the same cores (``pipeline_bench.measure``: wall seconds from
process start, imports and Ray's start included; CPU seconds of the whole tree; peak RSS summed
over the process tree, and the largest single process), ``--workers 2`` for all (the local Ray
gets 2 CPUs). sftforge runs on Ray twice: its map stages as Ray Data datasets
(``SFTFORGE_RAY_MAP_STAGES=data``) and as plain Ray tasks (the default). The outputs
and rejects of the three are compared byte for byte; the shuffle volume of the Ray run's
dedup stages (the key columns written to parts) is read from its work folder sizes.

With ``SFTFORGE_BENCH_DJ_VENV`` naming a venv with py-data-juicer and ray (pipeline_bench.py
makes one), Data-Juicer runs the same recipe on Ray in the same run, third:
``bench/peers/pipeline_dj_ray.yaml`` (``executor_type: ray``, ``ray_address: local``: the command
starts its own local Ray, as ``--engine ray`` does; its Ray dedup operators
``ray_document_deduplicator`` and ``ray_bts_minhash_deduplicator``), reading the records as one
``text`` field as in pipeline_bench.py, pinned to the same cores, Ray started with the machine's
CPUs. Its input conversion is not timed; its kept count differs (its special-character ratio
also counts digits and whitespace).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_scale_data import generate
from pipeline_bench import ALPACA, PEERS, RECIPE, ROOT, compile_tree, count_lines, measure

CLI = "import sys; from sftforge.cli.main import main; sys.exit(main())"
# Ray runs its task workers at nice 15 by default: on a machine shared with other jobs they then
# get almost no CPU (seen 2026-12-07: 2 % each at load 15) and the Ray runs measure the other
# jobs, not Ray. Both Ray runs (sftforge's and Data-Juicer's) get nice 0, as the local run has.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_worker_niceness": "0"}


# the engines a run compares: sftforge's local executor, and on Ray with its map stages as
# Ray Data datasets and as plain Ray tasks (the default; ``SFTFORGE_RAY_MAP_STAGES``)
ENGINES = {"local": ("local", None), "ray-data": ("ray", "data"), "ray-tasks": ("ray", "tasks")}


def run(name: str, inp: Path, fmt: str, work: Path, workers: int, chunk: int) -> dict[str, Any]:
    engine, map_stages = ENGINES[name]
    work.mkdir(parents=True, exist_ok=True)
    recipe = work / "recipe.yaml"
    recipe.write_text(RECIPE.format(input=inp, fmt=fmt, chunk=chunk), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), **RAY_ENV)
    if map_stages:
        env["SFTFORGE_RAY_MAP_STAGES"] = map_stages
    cmd = [sys.executable, "-c", CLI, "run", str(recipe), "-o", str(work / "run")]
    cmd += ["--workers", str(workers), "--fresh", "--engine", engine]
    res = measure(cmd, env, work / "log.txt")
    if res["rc"] == 0:
        res["kept"] = count_lines(work / "run" / "train.jsonl")
        res["rejected"] = count_lines(work / "run" / "rejects.jsonl")
    return res


def as_text(inp: Path, out: Path) -> Path:
    """The records as ``{"id", "text"}`` JSONL (instruction, input and output joined), for Data-Juicer."""
    if inp.suffix == ".jsonl":
        with open(inp, encoding="utf-8") as fh:
            records = (json.loads(line) for line in fh)
            _write_text(records, out)
    else:
        _write_text(json.loads(inp.read_text(encoding="utf-8")), out)
    return out


def _write_text(records: Iterable[dict[str, str]], out: Path) -> None:
    with open(out, "w", encoding="utf-8") as fh:
        for i, r in enumerate(records):
            text = "\n".join(x for x in (r["instruction"], r.get("input", ""), r["output"]) if x)
            fh.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")


def run_dj_ray(dj: Path, inp: Path, work: Path) -> dict[str, Any]:
    """Data-Juicer's ``dj-process`` with ``executor_type: ray`` on the same recipe."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    text = as_text(inp, work / "input.jsonl")
    cfg = (PEERS / "pipeline_dj_ray.yaml").read_text(encoding="utf-8")
    cfg = cfg.format(
        dataset_path=text, export_path=work / "out" / "out.jsonl", work_dir=work / "dj"
    )
    (work / "dj.yaml").write_text(cfg, encoding="utf-8")
    env = dict(os.environ, **RAY_ENV)
    res = measure(
        [str(dj / "bin" / "dj-process"), "--config", str(work / "dj.yaml")], env, work / "log.txt"
    )
    if res["rc"] == 0:  # Ray's JSON sink writes a folder of .json parts
        res["kept"] = sum(count_lines(p) for p in (work / "out").rglob("*.json"))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=0, help="grow the set to this many records")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the best is shown")
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
    compile_tree()
    rows: dict[str, dict[str, Any]] = {}
    names = list(ENGINES)
    for r in range(args.rounds):  # interleaved, the order reversed every other round
        for engine in names if r % 2 == 0 else names[::-1]:
            res = run(engine, inp, fmt, args.out / engine, args.workers, args.chunk)
            print(engine, f"round {r + 1}", json.dumps(res), flush=True)
            if res["rc"] != 0:
                sys.exit(f"{engine} failed: see {args.out / engine / 'log.txt'}")
            if engine not in rows or res["seconds"] < rows[engine]["seconds"]:
                rows[engine] = res  # the best round
    dj = os.environ.get("SFTFORGE_BENCH_DJ_VENV")
    if dj:
        rows["datajuicer-ray"] = run_dj_ray(Path(dj), inp, args.out / "datajuicer-ray")
        print("datajuicer-ray", json.dumps(rows["datajuicer-ray"]), flush=True)
    same = all(
        filecmp.cmp(args.out / "local" / "run" / f, args.out / e / "run" / f, shallow=False)
        for f in ("train.jsonl", "rejects.jsonl")
        for e in ("ray-data", "ray-tasks")
    )
    n = count_lines(inp) if inp.suffix == ".jsonl" else len(json.loads(inp.read_text("utf-8")))
    print(
        f"\n{n:,} records, --workers {args.workers}, chunk_size {args.chunk}, best of {args.rounds}"
    )
    print(f"load average: {os.getloadavg()[0]:.1f} at the end")
    print(
        "| engine | seconds | CPU seconds | records/s | peak RSS, tree (MB)"
        " | largest process (MB) | kept |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine, r in rows.items():
        print(
            f"| {engine} | {r['seconds']} | {r['cpu_s']} | {n / r['seconds']:,.0f}"
            f" | {r['peak_rss_mb']:,} | {r['peak_proc_rss_mb']:,} | {r.get('kept', 'failed')} |"
        )
    for e in ("ray-data", "ray-tasks"):
        ratio = rows[e]["seconds"] / rows["local"]["seconds"]
        cpu = rows[e]["cpu_s"] / rows["local"]["cpu_s"]
        print(f"{e} / local: wall {ratio:.2f}x, CPU {cpu:.2f}x")
    data, tasks = rows["ray-data"], rows["ray-tasks"]
    print(
        f"ray-data / ray-tasks: wall {data['seconds'] / tasks['seconds']:.2f}x,"
        f" CPU {data['cpu_s'] / tasks['cpu_s']:.2f}x"
    )
    print(f"outputs and rejects of all three identical: {same}")
    if "datajuicer-ray" in rows:
        dj_row = rows["datajuicer-ray"]
        if dj_row["rc"] != 0:
            print(f"Data-Juicer on Ray failed: see {args.out / 'datajuicer-ray' / 'log.txt'}")
        for engine in ("local", "ray-data", "ray-tasks"):
            print(
                f"Data-Juicer on Ray / sftforge {engine}: {dj_row['seconds'] / rows[engine]['seconds']:.2f}x"
            )
    else:
        print("Data-Juicer on Ray: not run (set SFTFORGE_BENCH_DJ_VENV)")


if __name__ == "__main__":
    main()
