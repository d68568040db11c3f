"""Check an ``export --for swift`` folder with ms-swift itself (runs with ms-swift's Python).

    SWIFT_PYTHON swift.py EXPORT_DIR OUT_JSONL [--step]     # run from inside EXPORT_DIR

Standalone: the standard library and ms-swift's own packages only, never sftforge. It reads the
``swift sft`` arguments of ``train_swift.sh`` exactly as written and builds ms-swift's own SFT
pipeline from them (``SwiftSft``: model, tokenizer, template from those arguments), then runs
ms-swift's data preparation of the train split (``load_dataset`` and the ``AddLengthPreprocessor``
encode pass, which drops the rows ms-swift cannot encode) and writes one
``{"input_ids", "labels"}`` line per kept row: ``Template.encode`` of that row, which is what the
trainer's ``LazyLLMDataset`` hands the collator (labels unshifted, ``-100`` where no loss: ms-swift
stores them so already). One override for the rows only: ms-swift shuffles the train set when it
loads it (``dataset_shuffle``); the rows are written in the file's order (``--dataset_shuffle
false``) so they line up with it; the tokens are the same either way.

With ``--step`` it then runs ``swift sft`` (``sft_main``) once more from the same arguments with
only what a one-step run needs: ``--max_steps 1``, ``--output_dir`` a temporary folder,
``--save_strategy no``, ``--report_to none``; precision and everything else as exported. The last
stdout line is one JSON object: ``{"trainer", "rows", "step", "notes"}``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

__all__ = ["main", "one_step", "script_args", "train_rows"]

SCRIPT = "train_swift.sh"

# this file is named swift.py: its folder, first on sys.path, would shadow the swift package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def script_args(folder: Path) -> list[str]:
    """The arguments ``train_swift.sh`` gives ``swift sft``, found by running the script exactly
    as written with a stand-in ``swift`` first on ``PATH`` that records its arguments (so the
    script's own choices, such as the precision, are taken as they fall on this machine). The
    trainer's ``bin`` folder comes next, as in an activated environment."""
    with tempfile.TemporaryDirectory(prefix="swift-args-") as tmp:
        record = Path(tmp) / "args.json"
        stand_in = Path(tmp) / "swift"
        stand_in.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n",
            encoding="utf-8",
        )
        stand_in.chmod(0o755)
        path = os.pathsep.join([tmp, str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        proc = subprocess.run(
            ["bash", str(folder / SCRIPT)],
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not record.exists():
            raise SystemExit(f"{SCRIPT} did not run swift: {proc.stderr.strip()[-2000:]}")
        args = json.loads(record.read_text(encoding="utf-8"))
    if args[:1] != ["sft"]:
        raise SystemExit(f"{SCRIPT} runs `swift {' '.join(args[:1])}`, not `swift sft`")
    return list(args[1:])


def train_rows(args: list[str], out: Path) -> int:
    """ms-swift's own preparation of the train split; one JSON line per row it keeps."""
    from swift.pipelines.train.sft import SwiftSft

    with tempfile.TemporaryDirectory(prefix="swift-rows-") as tmp:
        sft = SwiftSft([*args, "--output_dir", tmp, "--dataset_shuffle", "false"])
        train, _val = sft._get_dataset()
        train, _ = sft._encode_dataset(train, None)
        n = 0
        with out.open("w", encoding="utf-8") as f:
            for row in train if train is not None else []:
                enc = sft.template.encode(row)
                f.write(
                    json.dumps({"input_ids": list(enc["input_ids"]), "labels": list(enc["labels"])})
                    + "\n"
                )
                n += 1
    return n


def one_step(args: list[str]) -> dict[str, Any]:
    """``swift sft`` as exported, one optimizer step, nothing saved."""
    from swift.pipelines import sft_main

    with tempfile.TemporaryDirectory(prefix="swift-step-") as tmp:
        try:
            result = sft_main(
                [
                    *args,
                    "--max_steps",
                    "1",
                    "--output_dir",
                    tmp,
                    "--save_strategy",
                    "no",
                    "--report_to",
                    "none",
                ]
            )
        except Exception as exc:  # the trainer's own failure, reported as the step's result
            traceback.print_exc()
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        history = (result or {}).get("log_history") or []
        losses = [h["loss"] for h in history if isinstance(h, dict) and "loss" in h]
        if not losses:
            losses = [h["train_loss"] for h in history if isinstance(h, dict) and "train_loss" in h]
        if not losses or not math.isfinite(float(losses[-1])):
            return {"ok": False, "error": f"no finite loss in the log: {history}"}
        return {"ok": True, "loss": float(losses[-1])}


def main() -> None:
    folder, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    step = "--step" in sys.argv[3:]
    import swift

    args = script_args(folder)
    rows = train_rows(args, out)
    notes = ["rows in the file's order; training shuffles them (dataset_shuffle)"]
    result = {
        "trainer": f"ms-swift {swift.__version__}",
        "rows": rows,
        "step": one_step(args) if step else None,
        "notes": notes,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
