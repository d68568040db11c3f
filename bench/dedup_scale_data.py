"""A synthetic Alpaca-style JSONL of any size, made from the 52k Alpaca set, for dedup at scale.

    python bench/dedup_scale_data.py --scale 8 -o runs/bench/alpaca_x8.jsonl      # 8 x 52k records
    python bench/dedup_scale_data.py --records 10000000 -o runs/bench/alpaca_10m.jsonl

Copy 0 of the set is the original; every further copy of a record is, at random (seeded):
- 30 %: an exact duplicate after normalisation (case and spacing changed): ``dedup_exact`` drops it;
- 20 %: a near copy: one word of the output replaced (``dedup_near`` drops the long ones);
- 50 %: a new record: 40 % of its words replaced by words drawn from the whole set.
So a large set is duplicate-heavy (about 40 % of it goes), and clusters grow with the size.
``--unique`` makes every copy a new record: the no-duplicate yardstick of the same size.
Output: one JSON object per line with ``instruction``, ``input``, ``output``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SFTFORGE_DATA", ROOT.parent / "shared" / "data"))
ALPACA = DATA / "stanford_alpaca" / "alpaca_data.json"

__all__ = ["generate"]


def _perturb(
    rec: dict[str, str], rng: random.Random, vocab: list[str], unique: bool
) -> dict[str, str]:
    u = 1.0 if unique else rng.random()
    if u < 0.3:  # exact after normalisation
        return {k: (v.upper() if rng.random() < 0.5 else v.lower()) + "  " for k, v in rec.items()}
    out = dict(rec)
    words = out["output"].split()
    if not words:
        words = [rng.choice(vocab)]
    if u < 0.5:  # one word changed
        words[rng.randrange(len(words))] = rng.choice(vocab)
    else:  # a new record
        for i in range(len(words)):
            if rng.random() < 0.4:
                words[i] = rng.choice(vocab)
        inst = out["instruction"].split()
        for i in range(len(inst)):
            if rng.random() < 0.4:
                inst[i] = rng.choice(vocab)
        out["instruction"] = " ".join(inst)
    out["output"] = " ".join(words)
    return out


def generate(out: Path, records: int, seed: int = 0, unique: bool = False) -> int:
    """Write ``records`` records to ``out`` (JSONL); returns the count written. ``unique``: every
    copy is a new record (the no-duplicate yardstick of the same size)."""
    base = json.loads(ALPACA.read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    vocab = sorted({w for r in base[:5000] for w in r["output"].split()})
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        copy = 0
        while n < records:
            for rec in base:
                if n >= records:
                    break
                row = rec if copy == 0 else _perturb(rec, rng, vocab, unique)
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
            copy += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--scale", type=float, default=None, help="copies of the 52k set")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unique", action="store_true", help="every copy a new record")
    args = ap.parse_args()
    records = args.records or round((args.scale or 1.0) * 52002)
    print(generate(args.out, records, args.seed, args.unique), "records ->", args.out)


if __name__ == "__main__":
    main()
