"""LitGPT's own rows for an export folder (and one training step): the check behind
``sftforge export --check`` and the hand-over bench.

    LITGPT_PYTHON litgpt.py EXPORT_DIR OUT_JSONL [--step]      (run with cwd = EXPORT_DIR)

Standalone: the standard library and LitGPT only (run with the Python LitGPT is installed in).
It does what ``finetune_lora.sh`` does, unedited:

1. runs ``bash finetune_lora.sh --help``: the script's own conversion of the model (skipped when
   already converted), then only LitGPT's help;
2. parses ``litgpt finetune_lora CKPT --config finetune_lora.yaml`` with LitGPT's own command
   line (``litgpt.__main__.main``), with ``finetune/lora.py``'s ``main`` replaced by a function
   that runs LitGPT's ``get_dataloaders`` (the data module as the config built it, LitGPT's
   ``Tokenizer`` from the checkpoint) and writes each row of the training set, in file order:
   ``{"input_ids", "labels"}`` as ``SFTDataset`` returns them (labels unshifted, ``-100`` where
   no loss is taken: LitGPT's own convention, so nothing is converted);
3. with ``--step``: ``bash finetune_lora.sh --train.max_steps 1 --out_dir TMP`` (LitGPT's venv
   first on PATH), i.e. the exported command with only the overrides one step needs; the loss is
   the ``loss`` of the first optimizer step in LitGPT's CSV log.

The last stdout line is one JSON object: trainer, rows, step, notes.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = "finetune_lora.sh"
# this file is named litgpt.py: its own folder, first on sys.path, would shadow the litgpt package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def _checkpoint(script: Path) -> Path:
    """``CKPT=...`` as the export writes it (one shell word)."""
    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith("CKPT="):
            return Path(shlex.split(line[len("CKPT=") :])[0])
    raise SystemExit(f"{script} sets no CKPT: not a LitGPT export of sftforge")


def _env() -> dict[str, str]:
    """This Python's ``litgpt`` first on PATH, as in an activated environment."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _convert(folder: Path) -> Path:
    """The script's own conversion step: ``bash finetune_lora.sh --help`` converts the model (once)
    and then only prints ``litgpt finetune_lora``'s help."""
    subprocess.run(
        ["bash", SCRIPT, "--help"], cwd=folder, env=_env(), check=True, stdout=sys.stderr
    )
    return _checkpoint(folder / SCRIPT)


def _rows(ckpt: Path, out: Path) -> int:
    import litgpt.finetune.lora as lora
    from litgpt.__main__ import main as litgpt_main
    from litgpt.tokenizer import Tokenizer

    captured: dict[str, int] = {}

    def write_rows(fabric: Any, devices: int, seed: int, config: Any, data: Any, checkpoint_dir: Path,
                   out_dir: Path, train: Any, *rest: Any) -> None:  # fmt: skip
        lora.get_dataloaders(fabric, data, Tokenizer(checkpoint_dir), train)
        dataset = data.train_dataset
        with out.open("w", encoding="utf-8") as f:
            for i in range(len(dataset)):
                row = dataset[i]
                ids, labels = row["input_ids"].tolist(), row["labels"].tolist()
                f.write(json.dumps({"input_ids": ids, "labels": labels}) + "\n")
        captured["rows"] = len(dataset)

    lora.main = write_rows  # setup() ends with fabric.launch(main, ...): the data, not the training
    with tempfile.TemporaryDirectory(prefix="litgpt-peer-") as tmp:
        argv = ["litgpt", "finetune_lora", str(ckpt), "--config", "finetune_lora.yaml"]
        sys.argv = [*argv, "--out_dir", tmp]  # setup() makes out_dir; keep the folder clean
        stdout = sys.stdout
        sys.stdout = sys.stderr  # setup() prints its arguments
        try:
            litgpt_main()
        finally:
            sys.stdout = stdout
    return captured["rows"]


def _step(folder: Path) -> dict[str, Any]:
    env = _env()
    with tempfile.TemporaryDirectory(prefix="litgpt-step-") as tmp:
        cmd = ["bash", SCRIPT, "--train.max_steps", "1", "--out_dir", tmp]
        proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip() or "?").splitlines()[-1]
            return {"ok": False, "error": tail[:500]}
        # max_steps 1: the loop stops after the first optimizer step, so the last logged loss is
        # that step's (LitGPT logs the mean over the step's gradient-accumulation iterations)
        losses = [
            float(rec["loss"])
            for path in Path(tmp).rglob("metrics.csv")
            for rec in csv.DictReader(path.open(encoding="utf-8"))
            if rec.get("loss")
        ]
        if "step 1 |" not in proc.stdout + proc.stderr or not losses:
            return {"ok": False, "error": "training ended without an optimizer step"}
        return {"ok": True, "loss": losses[-1]}


def main() -> None:
    folder, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    want_step = "--step" in sys.argv[3:]  # (LitGPT's command line is run below with its argv)
    os.chdir(folder)
    from importlib.metadata import version

    notes: list[str] = []
    ckpt = _convert(folder)
    rows = _rows(ckpt, out)
    step = _step(folder) if want_step else None
    trainer = f"litgpt {version('litgpt')}"
    print(json.dumps({"trainer": trainer, "rows": rows, "step": step, "notes": notes}))


if __name__ == "__main__":
    main()
