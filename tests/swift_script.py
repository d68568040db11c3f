"""The arguments ``train_swift.sh`` gives ``swift``, found by running the script with bash.

The script decides the precision on the machine that trains, so its arguments are read by running
it, as the peer check does: a stand-in ``swift`` first on ``PATH`` records them, and a stand-in
``python`` answers the script's GPU question (``bf16_gpu``). A uniquely named helper module (not a
conftest), shared by the export tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def swift_args(script: Path, tmp: Path, *, bf16_gpu: bool = False) -> list[str]:
    """``swift``'s argv (``sft`` first) when ``script`` runs on a machine with or without a
    bf16 GPU."""
    bin_dir = tmp / "stand-in-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = tmp / "swift-args.json"
    (bin_dir / "swift").write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n",
        encoding="utf-8",
    )
    for name in ("python", "python3"):
        (bin_dir / name).write_text(f"#!/bin/sh\nexit {0 if bf16_gpu else 1}\n", encoding="utf-8")
    for name in ("swift", "python", "python3"):
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, cwd=tmp)
    args: list[str] = json.loads(record.read_text(encoding="utf-8"))
    record.unlink()
    return args
