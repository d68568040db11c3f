"""What a small conversion cannot go below: the interpreter and the imports, timed as processes.

    python bench/convert_floor_bench.py --repeat 15

``sftforge convert`` of the 1k set (bench/convert_cli_bench.py) against the least each part of
it can cost, every line a process timed whole (CPU = user + sys from ``wait4``; medians of
interleaved rounds, so a loaded machine slows every line alike):

- ``python -c pass``: the interpreter alone;
- ``import json``: what the stdlib script imports (json brings ``re`` and ``enum``);
- ``import json, orjson``: what any converter built on orjson imports at least (orjson's own
  start imports ``dataclasses`` with ``inspect``/``ast``/``dis``/``tokenize``, ``datetime``,
  ``uuid`` with ``platform``, and ``json``);
- ``import sftforge.cli.direct, sftforge.convert, sftforge.cli.convert``: everything the
  command imports, without converting;
- the stdlib script, the orjson script and ``sftforge convert``, converting the 1k set.

The differences between lines are the parts: e.g. orjson's import is "json, orjson" less
"json"; sftforge's own imports are its import line less "json, orjson"; its conversion is the
command less its import line. Results: a Markdown table on stdout and
``bench/out/convert_floor_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
IMPORTS = "import sftforge.cli.direct, sftforge.convert, sftforge.cli.convert"


def lines(src: Path, work: Path) -> list[tuple[str, list[str]]]:
    py = sys.executable
    sftforge = str(Path(py).parent / "sftforge")
    convert = [sftforge, "convert", str(src), str(work / "c.jsonl"), "--to", "sharegpt", "-q"]
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("import json", [py, "-c", "import json"]),
        ("import json, orjson", [py, "-c", "import json, orjson"]),
        ("sftforge's imports", [py, "-c", IMPORTS]),
        ("stdlib script, 1k", [py, str(HERE / "stdlib_convert.py"), str(src), str(work / "a")]),
        ("orjson script, 1k", [py, str(HERE / "orjson_convert.py"), str(src), str(work / "b")]),
        ("sftforge convert, 1k", convert),
    ]


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{err.decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from cached bytecode
    with tempfile.TemporaryDirectory(prefix="sftforge-floor-") as tmp:
        work = Path(tmp)
        src = work / "zh_1k.openai.jsonl"
        bench = HERE / "convert_cli_bench.py"
        subprocess.run([sys.executable, str(bench), "--make-zh-1k", str(src)], check=True)
        todo = lines(src, work)
        for _, cmd in todo:  # warm-up: bytecode written, files in the page cache
            run_once(cmd, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in todo}
        loads = [os.getloadavg()[0]]
        for rnd in range(args.repeat):
            for name, cmd in todo[rnd % len(todo) :] + todo[: rnd % len(todo)]:
                times[name].append(run_once(cmd, env))
            loads.append(os.getloadavg()[0])
    rows = [
        {
            "line": name,
            "cpu": statistics.median(c for c, _ in runs),
            "wall": statistics.median(w for _, w in runs),
        }
        for name, runs in times.items()
    ]
    print("| process | CPU s (median) | wall s (median) |\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['line']} | {r['cpu']:.3f} | {r['wall']:.3f} |")
    print(f"\nload average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}")
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "convert_floor_bench.json").write_text(
        json.dumps({"rows": rows, "load": [min(loads), max(loads)]}, indent=1), "utf-8"
    )


if __name__ == "__main__":
    main()
