"""Hand-over that trains: every export loaded and trained one step by its trainer, after a move.

    PYTHONPATH=src python bench/handover_bench.py [--trainers llamafactory,trl,...]
        [--sets quickstart,glaive_zh,fastchat,alpaca_zh] [--zh-multiturn FILE] [--no-step]
        [--json out.json] [--markdown out.md]

For each data set and each trainer whose environment exists (``.bench-venvs/<trainer>``, or the
``SFTFORGE_<TRAINER>_VENV`` variable; bench/_venvs.py), as a user would, each step a process:

1. ``sftforge export SOURCE DIR --for TRAINER --model TINY --max-len 1024`` (a tiny random Llama
   with the minimind tokenizer, bench/_tiny_model.py);
2. ``mv DIR MOVED``: the folder must work where it lands (relative paths);
3. the trainer's own code loads MOVED, unedited, from inside it: its data preparation gives the
   rows it would train on, then one optimizer step on CPU (``src/sftforge/export/peers/<trainer>.py``
   run with the trainer's Python);
4. ``sftforge tokenize SOURCE rows.parquet --tokenizer TINY --profile TRAINER --max-len 1024``:
   the rows sftforge says the trainer builds;
5. the two row lists aligned and compared (``sftforge.export.check.compare_rows``): identical on
   every row both keep, and the same rows kept.

The data sets: the quickstart recipe's train output (``examples/quickstart``), glaive tool calls in
Chinese and FastChat multi-turn (../shared/data), LLaMA-Factory's Chinese Alpaca demo, and with
``--zh-multiturn FILE`` a real Chinese multi-turn ShareGPT set (e.g. MedicalGPT's
``sharegpt_zh_1K_format.jsonl``; this machine cannot download it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA
from _tiny_model import build_tiny_llama
from _venvs import PEERS, ROOT, peer_python, peer_venv

from sftforge.export.check import compare_rows, run_peer

TRAINERS = ("llamafactory", "trl", "swift", "axolotl", "xtuner", "litgpt")
SETS: dict[str, Path | None] = {
    "quickstart": None,  # made by running the quickstart recipe
    "glaive_zh": SHARED_DATA / "llama_factory/data/glaive_toolcall_zh_demo.json",
    "fastchat": SHARED_DATA / "fastchat/dummy_conversation.json",
    "alpaca_zh": SHARED_DATA / "llama_factory/data/alpaca_zh_demo.json",
}
MAX_LEN = 1024


def sftforge(*args: str, cwd: Path | None = None) -> tuple[float, str]:
    """Run the CLI as a process; (wall seconds, stdout). Exit 1 with rejects is allowed: the
    rejected samples are part of what is compared."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sftforge", *args], capture_output=True, text=True, env=env, cwd=cwd
    )
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        raise SystemExit(f"failed: sftforge {' '.join(args)}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def has_venv(trainer: str) -> bool:
    return trainer in PEERS and (peer_venv(trainer) / "bin" / "python").exists()


def sources(work: Path, names: list[str], zh_multiturn: Path | None) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in names:
        if name == "quickstart":
            run = work / "quickstart-run"
            sftforge("run", str(ROOT / "examples/quickstart/recipe.yaml"), "-o", str(run), "-q")
            report = json.loads((run / "report.json").read_text(encoding="utf-8"))
            out[name] = run / report["outputs"]["train"]["path"]
        else:
            path = SETS[name]
            assert path is not None
            out[name] = path
    if zh_multiturn is not None:
        out["zh_multiturn"] = zh_multiturn
    return out


def profile_rows(parquet: Path) -> list[tuple[list[int], list[int]]]:
    import pyarrow.parquet as pq

    if not parquet.exists():
        return []
    table = pq.read_table(parquet, columns=["input_ids", "labels"])
    return list(zip(table["input_ids"].to_pylist(), table["labels"].to_pylist(), strict=True))


def one(
    trainer: str, name: str, source: Path, tiny: Path, work: Path, step: bool
) -> dict[str, Any]:
    here = work / f"{trainer}-{name}"
    moved = work / "moved" / f"{trainer}-{name}"
    export_s, _ = sftforge(
        "export", str(source), str(here), "--for", trainer, "--model", str(tiny),
        "--max-len", str(MAX_LEN), "--force", "-q",
    )  # fmt: skip
    moved.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(here), str(moved))
    rejects = moved / "rejects.jsonl"
    exported_rejects = sum(1 for _ in rejects.open(encoding="utf-8")) if rejects.exists() else 0
    parquet = work / f"{trainer}-{name}.parquet"
    tok_s, _ = sftforge(
        "tokenize", str(source), str(parquet), "--tokenizer", str(tiny), "--profile", trainer,
        "--max-len", str(MAX_LEN), "-q",
    )  # fmt: skip
    mine = profile_rows(parquet)
    result: dict[str, Any] = {
        "trainer": trainer,
        "set": name,
        "export_s": round(export_s, 2),
        "tokenize_s": round(tok_s, 2),
        "export_rejected": exported_rejects,
    }
    try:
        peer = run_peer(trainer, moved, peer_python(trainer), step=step)
    except Exception as exc:  # the trainer's failure is the result
        return result | {"error": str(getattr(exc, "message", exc))[:300]}
    c = compare_rows(mine, peer.rows)
    return result | {
        "peer": peer.trainer,
        "peer_s": round(peer.seconds, 2),
        "profile_rows": c.profile_rows,
        "trainer_rows": c.trainer_rows,
        "identical": c.identical,
        "differ": c.differ,
        "only_profile": c.only_profile,
        "only_trainer": c.only_trainer,
        "first_difference": c.first_difference,
        "step": peer.step,
        "notes": peer.notes,
    }


def markdown(results: list[dict[str, Any]]) -> str:
    head = (
        "| trainer | data | profile rows | trainer rows | identical | differ | only profile | "
        "only trainer | one CPU step | export s | trainer load+step s |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n"
    )
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"| {r['trainer']} | {r['set']} | | | | | | | error: {r['error']} | "
                         f"{r['export_s']} | |")  # fmt: skip
            continue
        step = r.get("step")
        step_text = (
            "not run" if step is None
            else f"loss {step['loss']:.3f}" if step.get("ok")
            else f"the trainer's own CPU limitation: {str(step.get('error'))[:60]}..."
            if step.get("cpu_limitation")
            else f"no: {step.get('error')}"
        )  # fmt: skip
        lines.append(
            f"| {r['peer']} | {r['set']} | {r['profile_rows']} | {r['trainer_rows']} | "
            f"{r['identical']} | {r['differ']} | {r['only_profile']} | {r['only_trainer']} | "
            f"{step_text} | {r['export_s']} | {r['peer_s']} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trainers", default=",".join(TRAINERS))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--zh-multiturn", type=Path)
    ap.add_argument("--no-step", action="store_true", help="load and compare only")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    trainers = [t for t in args.trainers.split(",") if t]
    missing = [t for t in trainers if not has_venv(t)]
    for t in missing:
        print(f"skipping {t}: no environment (.bench-venvs/{t} or its SFTFORGE_*_VENV)",
              file=sys.stderr)  # fmt: skip
    trainers = [t for t in trainers if t not in missing]
    with tempfile.TemporaryDirectory(prefix="handover-") as tmp:
        work = Path(tmp)
        tiny = build_tiny_llama(work / "tiny-llama")
        srcs = sources(work, [s for s in args.sets.split(",") if s], args.zh_multiturn)
        results = []
        for name, source in srcs.items():
            for trainer in trainers:
                r = one(trainer, name, source, tiny, work, not args.no_step)
                print(json.dumps(r, ensure_ascii=False), file=sys.stderr)
                results.append(r)
    table = markdown(results)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
