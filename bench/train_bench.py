"""Training throughput and peak memory: ``sftforge train`` against TRL's ``SFTTrainer`` and
LLaMA-Factory, on CPU, the same tiny model, data and settings, side by side in one run.

Each trainer runs as its own process (its whole command: start-up, data preparation, training,
saving the adapter), timed by ``/usr/bin/time`` for wall seconds and peak resident memory. The
work is the same for all: one epoch of LoRA (r 8, alpha 16, no dropout, every linear layer) over
the same samples, batch 4, max length 1024 (no sample is cut or dropped), float32, no gradient
checkpointing, no evaluation, cosine schedule, seed 0, one torch thread (``OMP_NUM_THREADS=1``)
each. Tokens/s is the number of tokens in the epoch (as sftforge's tokenizer counts them,
``train --dry-run``) over the wall seconds, so the ratio is that of the wall times.

The model: bench/_tiny_model.py (a 2-layer Llama, hidden 64, with the minimind tokenizer).
The data: the first ``--samples`` records of Stanford Alpaca (../shared/data).
Peers: TRL's venv (bench/_venvs.py: SFTFORGE_TRL_VENV or .bench-venvs/trl) and LLaMA-Factory's
(SFTFORGE_LF_VENV or .bench-venvs/llamafactory); a missing one is reported, not built.

    python bench/train_bench.py [--samples 256] [--repeat 2] [--only sftforge,trl,llamafactory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _shared import SHARED_DATA
from _tiny_model import build_tiny_llama
from _venvs import peer_venv

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "batch_size": 4, "grad_accum": 1, "lr": 2e-4, "epochs": 1, "max_len": 1024, "lora_r": 8,
    "lora_alpha": 16, "lora_dropout": 0.0, "seed": 0,
}  # fmt: skip


def _timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of ``argv`` run to the end; its output goes to ``log``."""
    stats = log.with_suffix(".time")
    with open(log, "wb") as fh:
        rc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *argv], cwd=cwd, env=env,
            stdout=fh, stderr=subprocess.STDOUT,
        ).returncode  # fmt: skip
    if rc != 0:
        raise SystemExit(f"{argv[0]} failed (exit {rc}); see {log}")
    wall, kib = stats.read_text().split()[-2:]
    return float(wall), int(kib) / 1024


def _data(samples: int, folder: Path) -> Path:
    # records with an empty answer are left out here, so that every trainer gets the same samples
    # (sftforge rejects them; another trainer might train on them)
    every = json.loads((SHARED_DATA / "stanford_alpaca" / "alpaca_data.json").read_text())
    records = [r for r in every if r["output"].strip()][:samples]
    path = folder / "alpaca.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            prompt = r["instruction"] + ("\n\n" + r["input"] if r["input"] else "")
            msgs = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": r["output"]},
            ]
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    return path


def _float32(model: Path) -> Path:
    """The model saved in float32: every trainer then computes in float32 (LLaMA-Factory on a
    CPU keeps the dtype of the model's config, which _tiny_model.py makes bfloat16)."""
    import torch
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).save_pretrained(model)
    return model


def _sftforge_flags(model: Path, data: Path, out: Path) -> list[str]:
    s = SETTINGS
    return [
        "train", "--model", str(model), "--data", str(data), "-o", str(out),
        "--batch-size", str(s["batch_size"]), "--grad-accum", str(s["grad_accum"]),
        "--lr", str(s["lr"]), "--epochs", str(s["epochs"]), "--max-len", str(s["max_len"]),
        "--lora-r", str(s["lora_r"]), "--lora-alpha", str(s["lora_alpha"]),
        "--lora-dropout", str(s["lora_dropout"]), "--seed", str(s["seed"]), "--warmup", "0",
        "--precision", "fp32", "--no-gradient-checkpointing", "--eval-every", "100000",
        "--save-every", "100000", "--scheduler", "cosine", "--val-ratio", "0",
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--only", default="sftforge,trl,llamafactory")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the best of each is shown")
    args = ap.parse_args()
    which = args.only.split(",")
    sftforge = [sys.executable, "-m", "sftforge", "-q"]
    # one intra-op thread for every trainer: the models are tiny, and on a shared machine two
    # threads that wait on each other cost each trainer far more than the work (measured: 8x)
    os.environ |= {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = _float32(build_tiny_llama(tmp / "model"))
        data = _data(args.samples, tmp)
        flags = _sftforge_flags(model, data, tmp / "sftforge")
        plan = subprocess.run(
            [*sftforge, *flags, "--dry-run", "--json"], env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        tokens = json.loads(plan.stdout)["tokens_per_epoch"]
        runs: dict[str, list[tuple[float, float]]] = {}
        trl = peer_venv("trl") / "bin" / "python"
        lf_bin = peer_venv("llamafactory") / "bin"
        if "trl" in which and not trl.exists():
            print(f"TRL: no venv at {trl.parent.parent} (set SFTFORGE_TRL_VENV)", file=sys.stderr)
            which.remove("trl")
        if "llamafactory" in which and not (lf_bin / "llamafactory-cli").exists():
            print(f"LLaMA-Factory: no venv at {lf_bin.parent}", file=sys.stderr)
            which.remove("llamafactory")
        # the trainers take turns, round after round, so a change in the machine's load falls on
        # all of them; each one's best round is reported
        for round_ in range(args.repeat):
            if "sftforge" in which:
                out = tmp / f"sftforge{round_}"
                argv = [*sftforge, *_sftforge_flags(model, data, out)]
                runs.setdefault("sftforge train", []).append(
                    _timed(argv, tmp, env, out.with_suffix(".log"))
                )
            if "trl" in which:
                script = str(ROOT / "bench" / "_peer_trl_train.py")
                argv = [
                    str(trl),
                    script,
                    str(model),
                    str(data),
                    str(tmp / f"trl{round_}"),
                    json.dumps(SETTINGS),
                ]
                log = tmp / f"trl{round_}.log"
                runs.setdefault("TRL SFTTrainer", []).append(_timed(argv, tmp, {**os.environ}, log))
            if "llamafactory" in which:
                lf_flags = _sftforge_flags(model, data, tmp / f"lf{round_}")
                runs.setdefault("LLaMA-Factory", []).append(
                    _llamafactory(lf_flags, lf_bin, tmp, env)
                )
        rows = [(name, *min(r, key=lambda x: x[0])) for name, r in runs.items()]
    base = rows[0][1] if rows and rows[0][0] == "sftforge train" else None
    print(
        f"{args.samples} samples, {tokens:,} tokens an epoch; CPU, {os.cpu_count()} cores; "
        f"best of {args.repeat} rounds"
    )
    print(f"{'trainer':<16} {'wall s':>8} {'tokens/s':>9} {'peak MiB':>9} {'time vs sftforge':>17}")
    for name, wall, mib in rows:
        ratio = f"{wall / base:.2f}x" if base else "-"
        print(f"{name:<16} {wall:>8.1f} {tokens / wall:>9.0f} {mib:>9.0f} {ratio:>17}")


def _llamafactory(
    flags: list[str], lf_bin: Path, tmp: Path, env: dict[str, str]
) -> tuple[float, float]:
    """LLaMA-Factory's own command on the config ``train --with llamafactory`` writes (prepared
    before the clock starts, as a person would have it ready)."""
    prep = [sys.executable, "-m", "sftforge", "-q", *flags, "--with", "llamafactory", "--dry-run"]
    prep.append("--json")
    done = json.loads(
        subprocess.run(prep, env=env, capture_output=True, text=True, check=True).stdout
    )
    # LLaMA-Factory imports torchaudio at module level; the peer venv has none that loads
    # against the pinned torch, so an empty package stands in (audio is never used)
    stub = tmp / "stub" / "torchaudio"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text("")
    lf_env = {
        **os.environ,
        "PYTHONPATH": str(stub.parent),
        "PATH": f"{lf_bin}{os.pathsep}{os.environ['PATH']}",
    }
    argv = [str(lf_bin / "llamafactory-cli"), *done["command"][1:]]
    return _timed(argv, Path(done["folder"]), lf_env, Path(done["folder"]) / "lf.log")


if __name__ == "__main__":
    main()
