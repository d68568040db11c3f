"""Tokenize as users run it: the whole ``sftforge tokenize`` command against LLaMA-Factory's and
TRL's own preprocessing, each a process from the data file to a file of rows, interleaved.

    PYTHONPATH=src python bench/tokenize_cli_bench.py [--repeat 3] [--sets alpaca_52k,zh_multiturn_20k]
        [--json out.json]

Per set, in one run, ``--repeat`` rounds of:

* ``lf``: ``llamafactory-cli train`` with ``tokenized_path`` (preprocess, save, exit;
  bench/_peer_lf_preprocess.py) — template ``qwen``, cutoff 2048;
* ``sftforge --profile llamafactory``: the same template and cutoff, to Parquet;
* ``trl``: ``SFTTrainer``'s dataset preparation in a process (bench/_peer_trl_prepare.py), the
  tokenizer's own template, TRL's default ``max_length`` 1024;
* ``sftforge --profile trl``: the same;
* ``sftforge native``: ``sftforge tokenize`` without a profile (the tokenizer's template,
  assistant-only labels), for the issue's "native vs TRL" row.

Wall seconds, CPU seconds (user + system of the process and its children) and peak RSS (GNU
``time``: the largest process of the tree). The rows of each sftforge profile run are compared
with the peer's (every row: ids and labels). Sets: the 52k Stanford Alpaca set, and 20,000
Chinese multi-turn conversations made with a fixed seed from LLaMA-Factory's ``alpaca_zh_demo``
(2-4 real Chinese exchanges per conversation; no larger Chinese multi-turn set is on this machine).
Tokenizer: the bundled minimind.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from _shared import SHARED_DATA
from _venvs import ROOT, peer_python

from sftforge.export.check import compare_rows

MINIMIND = SHARED_DATA / "tokenizers" / "minimind"
BENCH = Path(__file__).resolve().parent


def alpaca_52k(path: Path) -> int:
    rows = json.loads((SHARED_DATA / "stanford_alpaca/alpaca_data.json").read_text("utf-8"))
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            prompt = (r["instruction"] + "\n" + r.get("input", "")).strip()
            if not r["output"].strip():
                continue
            msgs = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": r["output"]},
            ]
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
            n += 1
    return n


def zh_multiturn_20k(path: Path) -> int:
    pool = json.loads((SHARED_DATA / "llama_factory/data/alpaca_zh_demo.json").read_text("utf-8"))
    pool = [r for r in pool if r["output"].strip()]
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(20_000):
            msgs = []
            for r in rng.sample(pool, rng.randint(2, 4)):
                prompt = (r["instruction"] + "\n" + r.get("input", "")).strip()
                msgs += [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": r["output"]},
                ]
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    return 20_000


SETS = {"alpaca_52k": alpaca_52k, "zh_multiturn_20k": zh_multiturn_20k}
# what each peer keeps between runs, removed before its run (see jobs)
FRESH = {"lf": ("hf-cache", "lf/tokenized"), "trl": ("hf-cache",)}


def lf_input(jsonl: Path, folder: Path) -> None:
    """The same conversations as a LLaMA-Factory ShareGPT-style dataset with its entry."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in jsonl.open(encoding="utf-8")]
    (folder / "data.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    entry = {
        "file_name": "data.json", "formatting": "sharegpt", "columns": {"messages": "messages"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"},
    }  # fmt: skip
    (folder / "dataset_info.json").write_text(json.dumps({"bench": entry}), encoding="utf-8")


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall s, CPU s (user+sys) and peak RSS MiB of one command, measured by GNU time: ``wait4``
    from this process would report at least this process's own peak (Linux carries a parent's
    maximum RSS into a forked child, and across exec), and the bench holds whole data sets."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as usage, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-o", usage.name, "-f", "%U %S %M", *cmd],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read()[-3000:].decode()}")
        user, system, peak_kb = usage.read().split()[-3:]
    return wall, float(user) + float(system), int(peak_kb) // 1024


def rows_of_parquet(path: Path) -> list[tuple[list[int], list[int]]]:
    t = pq.read_table(path, columns=["input_ids", "labels"])
    return list(zip(t["input_ids"].to_pylist(), t["labels"].to_pylist(), strict=True))


def rows_of_lf(folder: Path) -> list[tuple[list[int], list[int]]]:
    """LLaMA-Factory's saved train split (datasets' Arrow stream files)."""
    tables = []
    for f in sorted((folder / "train").glob("*.arrow")):
        with pa.memory_map(str(f)) as src:
            tables.append(pa.ipc.open_stream(src).read_all())
    t = pa.concat_tables(tables)
    return list(zip(t["input_ids"].to_pylist(), t["labels"].to_pylist(), strict=True))


def jobs(
    data: Path, work: Path, baseline: Path | None = None
) -> dict[str, tuple[list[str], dict[str, str] | None, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    me = [sys.executable, "-m", "sftforge", "tokenize", str(data)]
    lf_dir = work / "lf"
    lf_input(data, lf_dir / "data")
    cfg = {
        "model_name_or_path": str(MINIMIND), "stage": "sft", "do_train": True,
        "finetuning_type": "lora", "dataset": "bench", "dataset_dir": str(lf_dir / "data"),
        "template": "qwen", "cutoff_len": 2048, "overwrite_cache": True,
        "tokenized_path": str(lf_dir / "tokenized"), "output_dir": str(lf_dir / "out"),
        "report_to": "none",
    }  # fmt: skip
    (lf_dir / "cfg.json").write_text(json.dumps(cfg), encoding="utf-8")
    # the peers cache what they made (LLaMA-Factory loads `tokenized_path` when it exists, and
    # `datasets` reuses its JSON->Arrow and map() cache files for the same data): each peer run
    # gets an empty cache and no saved output (FRESH), so every round preprocesses, as a first run
    peer_env = {**os.environ, "HF_DATASETS_CACHE": str(work / "hf-cache")}
    lf_py = str(peer_python("llamafactory"))
    trl_py = str(peer_python("trl"))
    tok = ["--tokenizer", str(MINIMIND), "-q"]
    out: dict[str, tuple[list[str], dict[str, str] | None, Any]] = {
        "lf": ([lf_py, str(BENCH / "_peer_lf_preprocess.py"), str(lf_dir / "cfg.json")], peer_env,
               lambda: rows_of_lf(lf_dir / "tokenized")),
        "sftforge-lf": ([*me, str(work / "lf.parquet"), *tok, "--profile", "llamafactory",
                         "--template", "qwen", "--max-len", "2048"], env,
                        lambda: rows_of_parquet(work / "lf.parquet")),
        "trl": ([trl_py, str(BENCH / "_peer_trl_prepare.py"), str(data), str(MINIMIND), "1024",
                 str(work / "trl-peer.parquet")], peer_env,
                lambda: rows_of_parquet(work / "trl-peer.parquet")),
        # TRL's defaults: loss on every token (the profile's default is what export --for trl
        # writes: assistant-only through a marked template copy)
        "sftforge-trl": ([*me, str(work / "trl.parquet"), *tok, "--profile", "trl",
                          "--max-len", "1024", "--option", "assistant_only_loss=false"], env,
                         lambda: rows_of_parquet(work / "trl.parquet")),
        "sftforge-native": ([*me, str(work / "native.parquet"), *tok], env, None),
    }  # fmt: skip
    if baseline is not None:  # the same sftforge commands run from another source tree
        base_env = {**os.environ, "PYTHONPATH": str(baseline)}
        for key in ("sftforge-lf", "sftforge-trl", "sftforge-native"):
            cmd = [str(work / f"base-{Path(a).name}") if a.endswith(".parquet") else a
                   for a in out[key][0]]  # fmt: skip
            out[f"base-{key}"] = (cmd, base_env, None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--limit", type=int, help="keep the first N conversations (a quick try)")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="also run the sftforge commands from this src folder (e.g. .bench-base/src, made "
        "with git archive COMMIT src), interleaved, and check its rows equal this tree's",
    )
    args = ap.parse_args()
    results: dict[str, Any] = {}
    for name in args.sets.split(","):
        with tempfile.TemporaryDirectory(prefix="tokcli-") as tmp:
            work = Path(tmp)
            data = work / f"{name}.jsonl"
            n = SETS[name](data)
            if args.limit:
                lines = data.read_text(encoding="utf-8").splitlines()[: args.limit]
                data.write_text("\n".join(lines) + "\n", encoding="utf-8")
                n = len(lines)
            todo = jobs(data, work, args.baseline)
            # the LF config is JSON: LLaMA-Factory's run_exp takes a dict, read with yaml here
            times: dict[str, list[tuple[float, float, int]]] = {k: [] for k in todo}
            for _ in range(args.repeat):
                for key, (cmd, env, _) in todo.items():
                    for stale in FRESH.get(key, ()):
                        shutil.rmtree(work / stale, ignore_errors=True)
                    times[key].append(run(cmd, env))
            same = {
                "llamafactory": compare_rows(todo["sftforge-lf"][2](), todo["lf"][2]()),
                "trl": compare_rows(todo["sftforge-trl"][2](), todo["trl"][2]()),
            }
            if args.baseline:
                for kind in ("lf", "trl", "native"):
                    same[f"baseline {kind}"] = compare_rows(
                        rows_of_parquet(work / f"{kind}.parquet"),
                        rows_of_parquet(work / f"base-{kind}.parquet"),
                    )
        results[name] = {"rows": n, "times": times, "identical": {
            k: {"identical": c.identical, "ours": c.profile_rows, "peer": c.trainer_rows}
            for k, c in same.items()}}  # fmt: skip
        print(f"\n{name}: {n} conversations, {args.repeat} interleaved rounds (median)")
        print("| command | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|")
        for key, ts in times.items():
            w, c, m = (statistics.median(x[i] for x in ts) for i in range(3))
            print(f"| {key} | {w:.2f} | {c:.2f} | {m:.0f} |")
        pairs = [("lf", "sftforge-lf"), ("trl", "sftforge-trl"), ("trl", "sftforge-native")]
        if args.baseline:
            pairs += [(f"base-sftforge-{k}", f"sftforge-{k}") for k in ("lf", "trl", "native")]
        for peer, ours in pairs:
            pw = statistics.median(x[0] for x in times[peer])
            ow = statistics.median(x[0] for x in times[ours])
            pc = statistics.median(x[1] for x in times[peer])
            oc = statistics.median(x[1] for x in times[ours])
            print(f"{ours} vs {peer}: {pw / ow:.2f}x wall, {pc / oc:.2f}x CPU")
        for k, c in same.items():
            print(
                f"rows identical ({k}): {c.identical} of ours {c.profile_rows} / peer {c.trainer_rows}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
