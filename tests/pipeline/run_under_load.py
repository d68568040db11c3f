"""Run pipeline tests with busy-loop processes alongside: the kill/resume tests must pass on a
saturated machine too (issue 17: one hung past its timeout at load average 6).

    PYTHONPATH=src python tests/pipeline/run_under_load.py [--hogs N] [--rounds R] [PYTEST ARGS]

Default: one busy loop per core plus two, three rounds of
``tests/pipeline/test_pipeline_resume.py -k kill_and_resume``. Exits with pytest's code of the
first failing round; prints each round's wall time. CI runs the shorter
``test_kill_and_resume_under_cpu_saturation_leaves_no_process`` instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hogs", type=int, default=(os.cpu_count() or 1) + 2)
    parser.add_argument("--rounds", type=int, default=3)
    args, pytest_args = parser.parse_known_args()
    pytest_args = pytest_args or [
        "tests/pipeline/test_pipeline_resume.py",
        "-k",
        "kill_and_resume",
    ]
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    try:
        for n in range(1, args.rounds + 1):
            start = time.monotonic()
            rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-x", *pytest_args])
            print(f"round {n}: exit {rc}, {time.monotonic() - start:.1f} s, {args.hogs} busy loops")
            if rc:
                return rc
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
