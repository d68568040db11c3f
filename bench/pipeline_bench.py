"""Pipeline benchmark: the same cleaning recipe in sftforge, Data-Juicer and datatrove, side by side.

    python bench/pipeline_bench.py                      # all three on the 52k Alpaca set
    python bench/pipeline_bench.py --only sftforge      # just ours
    python bench/pipeline_bench.py --streaming 2        # ours on a generated ~2 GB JSONL
                                                        # (unicode + length filter + exact dedup)

Recipe: clean HTML + whitespace + unicode NFKC, length filter (10..10000 chars), special-character
ratio <= 0.25, word 10-gram repetition <= 0.5, exact dedup, MinHash dedup at Jaccard 0.8. The
peers run in their own virtual environments: ``SFTFORGE_BENCH_DJ_VENV`` and
``SFTFORGE_BENCH_DATATROVE_VENV`` point at existing ones, else they are created under
``.bench-venvs/`` (py-data-juicer 1.6.1 with the packages it would otherwise pip-install at run
time; datatrove 0.10.1 with ``xxhash<4``). Every tool runs as a child process pinned to the same
two cores; its peak RSS is the largest sum of RSS over its process tree, sampled every 50 ms.
The peers read the Alpaca records as one ``text`` field (instruction, input and output joined);
sftforge reads the Alpaca JSON file itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SFTFORGE_DATA", ROOT.parent / "shared" / "data"))
ALPACA = DATA / "stanford_alpaca" / "alpaca_data.json"
CONSTRAINTS = ROOT / "constraints.txt"
PEERS = ROOT / "bench" / "peers"
CORES = {0, 1}

DJ_PACKAGES = [
    "py-data-juicer==1.6.1", "aiohttp", "scipy", "ftfy", "fasttext-predict", "selectolax",
    "ray", "torch==2.13.0",
]  # fmt: skip
DATATROVE_PACKAGES = ["datatrove==0.10.1", "xxhash<4", "regex", "numpy", "tokenizers", "orjson"]

RECIPE = """\
chunk_size: {chunk}
cache: false
inputs:
  - path: {input}
    format: {fmt}
steps:
  - clean_html: {{}}
  - normalize_whitespace: {{}}
  - normalize_unicode: {{form: NFKC}}
  - length_filter: {{min: 10, max: 10000}}
  - special_char_filter: {{max: 0.25}}
  - word_repetition_filter: {{n: 10, max: 0.5}}
  - dedup_exact: {{}}
  - dedup_near: {{threshold: 0.8, ngram: 5}}
outputs:
  train: {{format: {fmt}, path: train.jsonl}}
"""


# -- process-tree memory ----------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` so far, in clock ticks (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int, ticks: dict[int, int] | None = None) -> tuple[int, int]:
    """(sum of RSS over the process tree, largest single process RSS), in KiB; with ``ticks``,
    also records each process's CPU ticks seen so far (for trees whose helpers are not reaped
    by their parent, where ``RUSAGE_CHILDREN`` would miss them)."""
    todo, total, biggest = [root], 0, 0
    while todo:
        pid = todo.pop()
        rss = _rss_kb(pid)
        total += rss
        biggest = max(biggest, rss)
        if ticks is not None:
            ticks[pid] = max(ticks.get(pid, 0), _cpu_ticks(pid))
        todo += _children(pid)
    return total, biggest


def measure(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> dict[str, Any]:
    """Run ``cmd`` on the benchmark cores; wall seconds, peak RSS (tree sum, largest process)
    and CPU seconds (user + sys summed over every process of the tree, Ray's daemons and workers
    included, sampled with the memory: on a loaded machine the figure load inflates least)."""
    start = time.perf_counter()
    # CPU time of the whole tree (user + sys): on the shared machine the wall clock measures
    # the load as much as the tool.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
        preexec_fn=lambda: os.sched_setaffinity(0, CORES),
    )  # fmt: skip
    peak = [0, 0]
    ticks: dict[int, int] = {}

    def poll() -> None:
        while proc.poll() is None:
            total, biggest = tree_rss(proc.pid, ticks)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], biggest)
            time.sleep(0.05)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    rc = proc.wait()
    t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # The sampled figure misses each process's last 50 ms; the reaped one misses processes
    # nobody waited for: the larger of the two is the closer.
    cpu = max(cpu, sum(ticks.values()) / os.sysconf("SC_CLK_TCK"))
    if log:
        out.close()  # type: ignore[union-attr]
    return {
        "rc": rc,
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak[0] / 1024, 1),
        "peak_proc_rss_mb": round(peak[1] / 1024, 1),
    }


# -- environments -----------------------------------------------------------------------------
def venv(name: str, env_var: str, packages: list[str]) -> Path:
    given = os.environ.get(env_var)
    if given:
        return Path(given)
    path = ROOT / ".bench-venvs" / name
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(path / "bin" / "pip"), "install", "-q", "-c", str(CONSTRAINTS), *packages],
            check=True,
        )
    return path


# -- inputs -----------------------------------------------------------------------------------
def prepare_text(records: list[dict[str, str]], out_dir: Path, parts: int) -> Path:
    """The Alpaca records as ``{"id", "text"}`` JSONL, in ``parts`` files (datatrove tasks)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [open(out_dir / f"part{k}.jsonl", "w", encoding="utf-8") for k in range(parts)]  # noqa: SIM115
    for i, r in enumerate(records):
        text = "\n".join(x for x in (r["instruction"], r.get("input", ""), r["output"]) if x)
        files[i % parts].write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
    for f in files:
        f.close()
    return out_dir


def count_lines(path: Path) -> int:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.jsonl"))
    return sum(sum(1 for _ in open(f, "rb")) for f in files)


# -- runners ----------------------------------------------------------------------------------
def compile_tree() -> None:
    """Byte-compile ``src/`` once, as ``pip install`` does for the peers' packages: with
    ``PYTHONDONTWRITEBYTECODE`` set (as on the shared machine) every sftforge run would otherwise
    compile its ~100 modules again (~0.2 s CPU a run, measured 2026-12-07)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)


def run_sftforge(
    inp: Path,
    fmt: str,
    work: Path,
    workers: int,
    chunk: int,
    template: str = RECIPE,
    src: Path = ROOT / "src",
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    recipe = work / "recipe.yaml"
    recipe.write_text(template.format(input=inp, fmt=fmt, chunk=chunk), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(src))
    cli = "import sys; from sftforge.cli.main import main; sys.exit(main())"
    cmd = [
        sys.executable,
        "-c",
        cli,
        "run",
        str(recipe),
        "-o",
        str(work / "run"),
        "--workers",
        str(workers),
        "--fresh",
    ]
    res = measure(cmd, env, work / "log.txt")
    if res["rc"] == 0:
        res["kept"] = count_lines(work / "run" / "train.jsonl")
    return res


def run_dj(dj: Path, text_dir: Path, work: Path, workers: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    merged = work / "input.jsonl"
    with open(merged, "wb") as out:
        for p in sorted(text_dir.glob("*.jsonl")):
            out.write(p.read_bytes())
    cfg = (
        (PEERS / "pipeline_dj.yaml")
        .read_text(encoding="utf-8")
        .format(
            dataset_path=merged,
            export_path=work / "out" / "out.jsonl",
            np=workers,
            work_dir=work / "dj",
        )
    )
    (work / "dj.yaml").write_text(cfg, encoding="utf-8")
    res = measure(
        [str(dj / "bin" / "dj-process"), "--config", str(work / "dj.yaml")], log=work / "log.txt"
    )
    if res["rc"] == 0:
        res["kept"] = count_lines(work / "out" / "out.jsonl")
    return res


def run_datatrove(dt: Path, text_dir: Path, work: Path, workers: int) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [
        str(dt / "bin" / "python"),
        str(PEERS / "pipeline_datatrove.py"),
        str(text_dir),
        str(work / "dt"),
        str(workers),
    ]
    res = measure(cmd, log=work / "log.txt")
    if res["rc"] == 0:
        res["kept"] = count_lines(work / "dt" / "final")
    return res


STREAM_RECIPE = """\
chunk_size: {chunk}
cache: false
inputs:
  - path: {input}
    format: sharegpt
steps:
  - normalize_unicode: {{form: NFKC}}
  - length_filter: {{min: 10}}
  - dedup_exact: {{}}
outputs:
  train: {{format: sharegpt, path: train.jsonl}}
"""


def streaming_input(
    path: Path, gigabytes: float, records: list[dict[str, str]], turns: int = 8
) -> int:
    """ShareGPT conversations of ``turns`` Alpaca pairs each (every one made unique) up to ``gigabytes``."""
    target = int(gigabytes * (1 << 30))
    n = written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            conv = []
            for k in range(turns):
                r = records[(n * turns + k) % len(records)]
                prompt = "\n".join(x for x in (r["instruction"], r.get("input", "")) if x)
                conv += [
                    {"from": "human", "value": f"{prompt} (#{n})"},
                    {"from": "gpt", "value": r["output"] or "-"},
                ]
            line = json.dumps({"conversations": conv}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode("utf-8"))
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="sftforge,datajuicer,datatrove")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=None, help="use the first N records")
    ap.add_argument(
        "--streaming", type=float, default=None, help="GB of generated input (ours only)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "pipeline")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another sftforge src/ folder (e.g. from git archive), run right after this one;"
        " its train and rejects files are compared byte for byte",
    )
    args = ap.parse_args()
    if not ALPACA.exists():
        sys.exit(f"skipped: {ALPACA} is not here (set SFTFORGE_DATA)")
    records = json.loads(ALPACA.read_text(encoding="utf-8"))[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "records": len(records),
        "workers": args.workers,
        "cores": sorted(CORES),
    }
    if args.streaming:
        big = args.out / "stream.jsonl"
        n = streaming_input(big, args.streaming, records)
        res = run_sftforge(big, "sharegpt", args.out / "stream", args.workers, 500, STREAM_RECIPE)
        res |= {
            "records": n,
            "input_mb": round(big.stat().st_size / 2**20),
            "records_per_s": round(n / res["seconds"]),
        }
        results["streaming"] = res
        print(json.dumps(res, indent=2))
        big.unlink()
        shutil.rmtree(args.out / "stream", ignore_errors=True)
    else:
        print(f"load average at the start: {os.getloadavg()}")
        tools = args.only.split(",")
        text_dir = prepare_text(records, args.out / "text", args.workers)
        if "sftforge" in tools:
            compile_tree()
            src = ALPACA
            if args.limit:
                src = args.out / "alpaca_limited.json"
                src.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
            results["sftforge"] = run_sftforge(
                src, "alpaca", args.out / "sftforge", args.workers, args.chunk
            )
            if args.baseline:
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.baseline)])
                base = run_sftforge(
                    src, "alpaca", args.out / "baseline", args.workers, args.chunk,
                    src=args.baseline,
                )  # fmt: skip
                base["identical_outputs"] = all(
                    (args.out / "sftforge" / "run" / f).read_bytes()
                    == (args.out / "baseline" / "run" / f).read_bytes()
                    for f in ("train.jsonl", "rejects.jsonl")
                )
                results["baseline"] = base
        if "datatrove" in tools:
            dt = venv("datatrove", "SFTFORGE_BENCH_DATATROVE_VENV", DATATROVE_PACKAGES)
            results["datatrove"] = run_datatrove(dt, text_dir, args.out / "datatrove", args.workers)
        if "datajuicer" in tools:
            dj = venv("datajuicer", "SFTFORGE_BENCH_DJ_VENV", DJ_PACKAGES)
            results["datajuicer"] = run_dj(dj, text_dir, args.out / "datajuicer", args.workers)
        print(f"load average at the end: {os.getloadavg()}")
        print(
            "| tool | records/s | seconds | CPU s | peak RSS (tree) MB | largest process MB | kept |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for tool in ("sftforge", "baseline", "datajuicer", "datatrove"):
            r = results.get(tool)
            if not r:
                continue
            r["records_per_s"] = round(len(records) / r["seconds"]) if r["rc"] == 0 else None
            print(
                f"| {tool} | {r['records_per_s']} | {r['seconds']} | {r['cpu_s']} | {r['peak_rss_mb']} | {r['peak_proc_rss_mb']} | {r.get('kept')} |"
            )
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
