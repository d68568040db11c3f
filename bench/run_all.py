"""Run every benchmark in turn (``make bench``); each one prints its own table.

Peers (datasets, Data-Juicer, datatrove, LLaMA-Factory, TRL, rouge_score) run in their own virtual
environments, created under ``.bench-venvs/`` on first use or taken from the ``SFTFORGE_*_VENV``
variables each script documents. Data comes from ``../shared/data`` (or ``$SFTFORGE_DATA``).
Pass names to run a subset: ``python bench/run_all.py convert_bench dedup_quality``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# cheapest first: a failure late in the list costs the least
BENCHES = (
    "formats_bench",
    "dedup_quality",
    "pipeline_ops_micro",
    "tokenize_bench",
    "convert_bench",
    "convert_cli_bench",
    "remote_bench",
    "pipeline_ops_vs_datajuicer",
    "pipeline_bench",
    "profile_bench",
    "profile_oracle",
    "rouge_novelty_bench",
)


def main(names: list[str]) -> int:
    chosen = names or list(BENCHES)
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        return 2
    failed: list[str] = []
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent)
        print(f"=== {name}: exit {rc} after {time.perf_counter() - start:.0f} s ===", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
