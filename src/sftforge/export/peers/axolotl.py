"""axolotl's own data preparation (and optionally one training step) on an sftforge export folder.

Standalone: run with the python of the environment axolotl is installed in, from inside the export
folder (standard library and axolotl's own packages only, never sftforge)::

    AXOLOTL_PYTHON src/sftforge/export/peers/axolotl.py EXPORT_DIR OUT_JSONL [--step]

It loads ``axolotl.yaml`` exactly as ``axolotl train axolotl.yaml`` does (``axolotl.cli.config
.load_cfg``, no edits) and runs axolotl's dataset preparation for the train split
(``axolotl.common.datasets.load_datasets``: tokenization by the ``chat_template`` strategy, the
``sequence_len`` filter, the no-trainable-token filter), then writes one
``{"input_ids", "labels"}`` line per row axolotl keeps, in axolotl's order. axolotl stores labels
unshifted with -100 where no loss is taken, as the protocol wants: they are written as stored.

With ``--step`` it then trains ONE optimizer step with axolotl's own entry point
(``axolotl.train.train``) from the same config, overriding only what a one-step run needs:
``max_steps: 1`` and the output into a temporary folder (removed afterwards).
Precision and everything else stay as exported.

The last stdout line is one JSON object: ``{"trainer": "axolotl <version>", "rows": N,
"step": null | {"ok": true, "loss": float} | {"ok": false, "error": "..."}, "notes": [...]}``.
Telemetry is turned off here (``AXOLOTL_DO_NOT_TRACK=1``) as the exported command does.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

# before axolotl is imported: its telemetry starts at import and retries for minutes offline
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

# this file is named axolotl.py: its own folder must not shadow the axolotl package on import
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

CONFIG = "axolotl.yaml"


def _config(**overrides):
    from axolotl.cli.config import load_cfg

    return load_cfg(CONFIG, **overrides)


def _rows(out: Path):
    from axolotl.cli.args import TrainerCliArgs
    from axolotl.common.datasets import load_datasets

    cfg = _config()
    meta = load_datasets(cfg=cfg, cli_args=TrainerCliArgs())
    rows = 0
    with out.open("w", encoding="utf-8") as f:
        for row in meta.train_dataset:
            rec = {"input_ids": list(row["input_ids"]), "labels": list(row["labels"])}
            f.write(json.dumps(rec) + "\n")
            rows += 1
    return rows, cfg


def _step() -> dict:
    from axolotl.cli.args import TrainerCliArgs
    from axolotl.common.datasets import load_datasets
    from axolotl.train import train

    with tempfile.TemporaryDirectory(prefix="axolotl-step-") as tmp:
        cfg = _config(max_steps=1, output_dir=tmp)
        meta = load_datasets(cfg=cfg, cli_args=TrainerCliArgs())
        _model, _tok, trainer = train(cfg=cfg, dataset_meta=meta)
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        if not losses:
            losses = [h["train_loss"] for h in trainer.state.log_history if "train_loss" in h]
        if not losses:
            return {"ok": False, "error": "axolotl trained but logged no loss"}
        return {"ok": True, "loss": float(losses[0])}


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--step"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder, out = Path(args[0]), Path(args[1]).resolve()
    os.chdir(folder)
    import axolotl

    notes: list[str] = []
    rows, cfg = _rows(out)
    notes.append(f"chat_template: {cfg.chat_template}; bf16 resolved to {cfg.bf16}")
    step = None
    if "--step" in argv:
        try:
            step = _step()
        except Exception as exc:  # the trainer's own failure is the result
            traceback.print_exc()
            step = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    info = {
        "trainer": f"axolotl {axolotl.__version__}",
        "rows": rows,
        "step": step,
        "notes": notes,
    }
    print(json.dumps(info, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
