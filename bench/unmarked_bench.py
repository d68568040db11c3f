"""Native mode with a shipped (unmarked) chat template vs the marked-template path, whole CLI.

    PYTHONPATH=src python bench/unmarked_bench.py [--repeat 3] [--limit N] [--json out.json]

``sftforge tokenize`` is run as a process, file to file (JSONL in, Parquet out), on the 52k
Stanford Alpaca set with the minimind tokenizer, three ways, interleaved in one run:

* ``marked``: the built-in ``qwen2.5`` template, which has ``{% generation %}`` marks;
* ``unmarked``: the same template text with the marks removed, as models ship it (trained spans
  found by rendering prefixes);
* ``own``: the minimind tokenizer's own ``chat_template`` (``--template tokenizer``, unmarked).

Wall seconds, CPU seconds (user + system, all threads) and peak RSS (``os.wait4`` of each child)
per run; the best and the median of ``--repeat`` runs; the ratios unmarked / marked from the same
run. On a shared machine the CPU figure is the stable one. The ``marked`` and ``unmarked``
outputs are compared row by row (ids and labels must be identical).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
MARK = re.compile(r"\{%-?\s*(end)?generation\s*-?%\}")
CONTROL = re.compile(r"\\u00(0[0-8bcef]|1[0-9a-f]|7f)")  # as json.dumps escapes them


def write_lf_input(jsonl: Path, folder: Path) -> dict[str, Any]:
    """The same rows as an Alpaca JSON file with a dataset_info.json entry, for LLaMA-Factory."""
    folder.mkdir()
    rows = []
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        user, answer = json.loads(line)["messages"]
        rows.append({"instruction": user["content"], "input": "", "output": answer["content"]})
    (folder / "alpaca.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (folder / "dataset_info.json").write_text(json.dumps({"bench": {"file_name": "alpaca.json"}}))
    return {"dataset_dir": str(folder), "dataset": "bench"}


def write_input(path: Path, limit: int | None) -> int:
    rows = json.loads((SHARED_DATA / "stanford_alpaca/alpaca_data.json").read_text("utf-8"))
    rows = rows[:limit] if limit else rows
    # the readers refuse an empty answer and control characters (a few rows of the set)
    rows = [r for r in rows if r["output"].strip() and not CONTROL.search(json.dumps(r))]
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            prompt = (r["instruction"] + "\n" + r.get("input", "")).strip()
            msgs = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": r["output"]},
            ]
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    return len(rows)


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak RSS (MiB) of one
    process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read()[-3000:].decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--llamafactory",
        action="store_true",
        help="also time LLaMA-Factory's preprocessing (template qwen) as a process, in its venv "
        "($SFTFORGE_LF_VENV or .bench-venvs/llamafactory)",
    )
    opts = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from sftforge.chat.templates import get_template

    tokenizer = SHARED_DATA / "tokenizers/minimind"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n = write_input(work / "in.jsonl", opts.limit)
        marked = get_template("qwen2.5").source
        (work / "marked.jinja").write_text(marked, encoding="utf-8")
        (work / "unmarked.jinja").write_text(MARK.sub("", marked), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        ours = [sys.executable, "-m", "sftforge", "tokenize", str(work / "in.jsonl")]
        variants = {
            name: [*ours, str(work / f"{name}.parquet"), "--tokenizer", str(tokenizer), *extra]
            for name, extra in (
                ("marked", ["--template", str(work / "marked.jinja")]),
                ("unmarked", ["--template", str(work / "unmarked.jinja")]),
                ("own", ["--template", "tokenizer"]),
            )
        }
        if opts.llamafactory:
            sys.path.insert(0, str(ROOT / "bench"))
            from _venvs import peer_python

            job = {"tokenizer": str(tokenizer), "template": "qwen", "cutoff_len": 2048,
                   "options": {}, "out": str(work / "lf.jsonl"),
                   **write_lf_input(work / "in.jsonl", work / "lf")}  # fmt: skip
            (work / "jobs.json").write_text(json.dumps([job]))
            script = str(ROOT / "bench/_peer_llamafactory.py")
            variants["llamafactory"] = [str(peer_python("llamafactory")), script,
                                        str(work / "jobs.json")]  # fmt: skip
            env["HF_DATASETS_CACHE"] = str(work / "hf-cache")
        times: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        rss: dict[str, int] = dict.fromkeys(variants, 0)
        for _ in range(opts.repeat):
            for name, cmd in variants.items():
                wall, cpu_s, peak = run(cmd, env)
                times[name].append(wall)
                cpu[name].append(cpu_s)
                rss[name] = max(rss[name], peak)
        a, b = pq.read_table(work / "marked.parquet"), pq.read_table(work / "unmarked.parquet")
        same = a.column("input_ids").to_pylist() == b.column("input_ids").to_pylist() and (
            a.column("labels").to_pylist() == b.column("labels").to_pylist()
        )
        rows = {
            k: pq.read_table(work / f"{k}.parquet").num_rows
            for k in variants
            if k != "llamafactory"
        }
        if opts.llamafactory:
            lf = [json.loads(x) for x in (work / "lf.jsonl").read_text().splitlines()]
            rows["llamafactory"] = len(lf)
            same_lf = [r["input_ids"] for r in lf] == b.column("input_ids").to_pylist() and (
                [r["labels"] for r in lf] == b.column("labels").to_pylist()
            )
    result = {
        "samples": n,
        "rows": rows,
        "identical_marked_unmarked": same,
        "identical_llamafactory_unmarked": same_lf if opts.llamafactory else None,
        "best_s": {k: min(v) for k, v in times.items()},
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "peak_rss_mib": rss,
        "ratio_unmarked_over_marked_best": min(times["unmarked"]) / min(times["marked"]),
        "ratio_unmarked_over_marked_median": statistics.median(times["unmarked"])
        / statistics.median(times["marked"]),
        "cpu_median_s": {k: statistics.median(v) for k, v in cpu.items()},
        "ratio_unmarked_over_marked_cpu_median": statistics.median(cpu["unmarked"])
        / statistics.median(cpu["marked"]),
        "runs": times,
        "cpu_runs": cpu,
    }
    print(json.dumps(result, indent=2))
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
