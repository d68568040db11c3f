"""Per-format parse and dump throughput on the 52k Stanford Alpaca set, in memory.

Measures only the format layer (no file reading or writing): the alpaca records are parsed,
then written to and read back from each chat format. Reports records/s by wall clock and by
process CPU time (the CPU figure is steadier on a shared machine); "deferred" parses inside
``deferred_ids()`` as ``convert`` does (content ids computed only when read).

    python bench/formats_bench.py [path to alpaca_data.json]   (or SFTFORGE_ALPACA=...)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from sftforge.errors import FormatError
from sftforge.formats import LossLog, get_format
from sftforge.sample import deferred_ids

_REL = Path("shared/data/stanford_alpaca/alpaca_data.json")
# next to the repository (as in the issue), else the team's shared folder
DEFAULTS = [Path(__file__).resolve().parents[2] / _REL, Path("/work") / _REL]
TARGETS = ["alpaca", "sharegpt", "openai", "swift", "xtuner", "fastchat", "llamafactory_v1"]


def _best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def main() -> None:
    given = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SFTFORGE_ALPACA")
    path = Path(given) if given else next((p for p in DEFAULTS if p.exists()), DEFAULTS[0])
    values = orjson.loads(path.read_bytes())
    alpaca = get_format("alpaca")
    samples, rejected = [], 0
    for v in values:
        try:
            samples.append(alpaca.parse(v))
        except FormatError:
            rejected += 1  # empty answers in the source set
    gc.freeze()
    n = len(samples)
    print(f"{path.name}: {len(values)} records, {n} parsed, {rejected} rejected (empty answer)")
    head = ("parse rec/s", "(cpu)", "deferred", "(cpu)", "dump rec/s", "(cpu)")
    print(f"{'format':<16}" + "".join(f"{h:>13}" for h in head))
    for name in TARGETS:
        fmt = get_format(name)
        loss = LossLog()
        out = [fmt.dump(s, loss) for s in samples]
        pw, pc = _best(lambda fmt=fmt, out=out: [fmt.parse(v) for v in out])
        lw, lc = _best(lambda fmt=fmt, out=out: _deferred(fmt, out))
        dw, dc = _best(lambda fmt=fmt, loss=loss: [fmt.dump(s, loss) for s in samples])
        rates = (n / pw, n / pc, n / lw, n / lc, n / dw, n / dc)
        print(f"{name:<16}" + "".join(f"{r:>13,.0f}" for r in rates))


def _deferred(fmt: Any, values: list[Any]) -> list[Any]:
    with deferred_ids():
        return [fmt.parse(v) for v in values]


if __name__ == "__main__":
    main()
