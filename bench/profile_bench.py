"""Speed: the ``llamafactory`` profile against LLaMA-Factory's own preprocessing, side by side.

    python bench/profile_bench.py [--template qwen] [--limit N] [--sets alpaca_52k ...]

For each set, both sides start from the same original file and stop when every row's ids and
labels are in memory; loading the tokenizer is outside both clocks.

* LLaMA-Factory's clock: ``get_template_and_fix_tokenizer`` then ``get_dataset`` (its JSON loading,
  converter and ``SupervisedDatasetProcessor``, one process, as configured by default) in its own
  venv, on the file through a dataset_info.json entry (bench/_peer_llamafactory.py).
* sftforge's clock: ``get_profile`` (which fixes a copy of the tokenizer when the template needs
  it), then ``encode_batch`` over the samples read from the same file (parsed with orjson, made
  into Samples as the profile asks for them, so reading overlaps tokenization). The profile
  tokenizes in a worker thread (the Rust tokenizer uses every core) while Python plans and builds
  rows, as it does for any caller.

Ids and labels are then compared row by row: the speed-up only counts if they are identical.
Both run on the same machine, one after the other; the tokenizer is the minimind one.

Peer venv: $SFTFORGE_LF_VENV, else .bench-venvs/llamafactory. Tokenizer: $SFTFORGE_TOKENIZER.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _demo_data import EXTRA, LF_DATA, iter_samples
from _venvs import peer_python

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer

HERE = Path(__file__).resolve().parent
TOKENIZER = os.environ.get("SFTFORGE_TOKENIZER", str(SHARED_DATA / "tokenizers/minimind"))
SETS = ["alpaca_52k", "alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_en_demo",
        "glaive_toolcall_zh_demo", "identity", "fastchat_dummy"]  # fmt: skip


def _lf_entry(name: str, tmp: Path) -> tuple[str, str]:
    """(dataset_dir, dataset name) for LLaMA-Factory to read the original file."""
    if name not in EXTRA:
        return str(LF_DATA), name
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    (d / EXTRA[name].name).symlink_to(EXTRA[name])
    entry: dict[str, Any] = {"file_name": EXTRA[name].name}
    if name == "fastchat_dummy":
        entry |= {"formatting": "sharegpt", "columns": {"messages": "conversations"}}
    (d / "dataset_info.json").write_text(json.dumps({name: entry}))
    return str(d), name


def ours(name: str, template: str, limit: int | None) -> tuple[float, list[Encoded], int]:
    """Seconds from the file to the rows, the rows, and how many samples did not become one."""
    tok = load_tokenizer(TOKENIZER)  # LLaMA-Factory's clock also starts after loading it
    t0 = time.perf_counter()
    skipped = [0]
    profile = get_profile("llamafactory", tok, template=template, max_length=2048)
    rows = profile.encode_batch(iter_samples(name, limit, skipped))
    seconds = time.perf_counter() - t0
    encoded = [r for r in rows if isinstance(r, Encoded)]
    return seconds, encoded, skipped[0] + len(rows) - len(encoded)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="qwen")
    ap.add_argument(
        "--limit", type=int, default=None, help="(LLaMA-Factory always reads whole files)"
    )
    ap.add_argument("--sets", nargs="*", default=SETS)
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; the best of each is kept")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sftforge-bench-"))
    jobs = []
    for name in args.sets:
        ddir, dname = _lf_entry(name, tmp)
        for _ in range(args.repeat):
            jobs.append({"tokenizer": TOKENIZER, "dataset_dir": ddir, "dataset": dname, "template": args.template,
                         "cutoff_len": 2048, "options": {}, "out": str(tmp / f"{name}.peer.jsonl")})  # fmt: skip
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    env = os.environ | {"HF_DATASETS_CACHE": str(tmp / "hf-cache")}
    proc = subprocess.run(
        [str(peer_python("llamafactory")), str(HERE / "_peer_llamafactory.py"), str(tmp / "jobs.json")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"LLaMA-Factory failed:\n{proc.stderr[-3000:]}")
    all_lf = json.loads(proc.stdout.strip().splitlines()[-1])
    lf_seconds = [min(all_lf[i : i + args.repeat]) for i in range(0, len(all_lf), args.repeat)]
    jobs = jobs[:: args.repeat]
    print(f"template={args.template} cutoff_len=2048 tokenizer={TOKENIZER} best of {args.repeat}")
    print(
        f"{'set':26} {'rows':>6} {'tokens':>9} {'LLaMA-Factory s':>15} {'sftforge s':>10} {'speed-up':>8}  identical"
    )
    tot_lf = tot_us = 0.0
    for job, lf_s in zip(jobs, lf_seconds, strict=True):
        name = Path(job["out"]).name.removesuffix(".peer.jsonl")
        runs = [ours(name, args.template, args.limit) for _ in range(args.repeat)]
        our_s, rows = min(r[0] for r in runs), runs[0][1]
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        same = len(rows) == len(theirs) and all(
            a.input_ids == b["input_ids"] and a.labels == b["labels"]
            for a, b in zip(rows, theirs, strict=True)
        )
        tokens = sum(len(r.input_ids) for r in rows)
        tot_lf, tot_us = tot_lf + lf_s, tot_us + our_s
        print(
            f"{name:26} {len(rows):6d} {tokens:9d} {lf_s:15.2f} {our_s:10.2f} {lf_s / our_s:7.1f}x  {same}"
        )
    print(f"{'total':26} {'':6} {'':9} {tot_lf:15.2f} {tot_us:10.2f} {tot_lf / tot_us:7.1f}x")


if __name__ == "__main__":
    main()
