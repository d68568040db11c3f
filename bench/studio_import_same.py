"""Does a change to the studio's import store exactly what another source tree stores?

    python bench/studio_import_same.py --base-src BASE/src            # 52k, the 1k Chinese set, ...
    python bench/studio_import_same.py --base-src BASE/src --big 200000

Each input is imported by this tree and by ``BASE/src`` (e.g. a checkout of main), each in a
fresh process, into a dataset of the same id, once with one process and once with convert's
helpers (``workers=2``), then appended once more to that head (a second version on a parent).
Compared: the import's row (version id, read, imported, rejected), the content id, the version's
Parquet and browse files byte for byte, the rejects file byte for byte, and the ``versions`` row
(parent, kind, rows). Exit status 1 on any difference.

Inputs: the 52k Alpaca JSON; convert_cli_bench's 1k Chinese multi-turn set (tools, tool calls,
system prompts); LLaMA-Factory's ShareGPT tool-call set in Chinese and its Chinese DPO set
(preference: rejected answers); a small JSONL with rejects and unknown fields; with ``--big N``,
N rows of studio_bench's CJK-tagged JSONL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
LF = SHARED_DATA / "llama_factory" / "data"

CHILD = """
import sys, json, hashlib
from pathlib import Path
import sftforge.studio.store as store_module
from sftforge.studio import versions as versions_module
from sftforge.studio.store import Store
from sftforge.studio.imports import import_file
src, home, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
import itertools
count = itertools.count()
store_module.new_id = lambda prefix: f"{prefix}_{next(count)}"  # the same ids in both trees
seen = []
finish = versions_module.VersionWriter.finish
def spy(self):
    out = finish(self)
    seen.append(self.content_id)
    return out
versions_module.VersionWriter.finish = spy
store = Store(home)
dataset = store.create_dataset(store.create_project("p", "p")["id"], "d")
def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None
out = []
for n in range(2):  # a first version, then the same rows appended to it
    row = import_file(store, home / "v", home / "r", dataset["id"], src, user="u",
                      workers=workers)
    vid = row["version_id"]
    version = store.version(vid) if vid else None
    out.append({
        "status": row["status"], "error": row["error"],
        "counts": [vid, row["read"], row["imported"], row["rejected"]],
        "content_id": seen[-1] if vid else None,
        "version": [version["parent_id"], version["kind"], version["rows"]] if version else None,
        "parquet": digest(home / "v" / f"{vid}.parquet") if vid else None,
        "browse": digest(home / "v" / f"{vid}.browse.arrow") if vid else None,
        "rejects": digest(home / row["rejects_path"]) if row["rejects_path"] else None,
    })
print(json.dumps(out))
"""


def small_jsonl(path: Path) -> None:
    """Alpaca records with Chinese text, unknown fields, and bad records (rejects)."""
    rows: list[str] = []
    for i in range(500):
        rec: dict[str, Any] = {"instruction": f"第{i}题：解释", "input": "", "output": f"答{i}"}
        if i % 7 == 0:
            rec["来源"] = {"site": "知乎", "n": i}
        if i % 11 == 0:
            rec["output"] = "   "  # a blank answer: rejected
        rows.append(json.dumps(rec, ensure_ascii=False))
    rows[99] = "{broken"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def inputs(tmp: Path, big: int) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).parent))
    from convert_cli_bench import make_zh_1k

    zh = tmp / "zh_1k.jsonl"
    make_zh_1k(zh)
    small = tmp / "small_rejects.jsonl"
    small_jsonl(small)
    out = [
        SHARED_DATA / "stanford_alpaca" / "alpaca_data.json",
        zh,
        LF / "glaive_toolcall_zh_demo.json",
        LF / "dpo_zh_demo.json",
        small,
    ]
    if big:
        from studio_bench import make_big

        path = tmp / f"big_{big}.jsonl"
        make_big(path, big)
        out.append(path)
    return out


def run(tree: Path, src: Path, home: Path, workers: int) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-c", CHILD, str(src), str(home), str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{tree} on {src.name}: {done.stderr[-2000:]}")
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-src", type=Path, required=True, help="the other tree's src/")
    ap.add_argument("--big", type=int, default=0, help="also N rows of the bench's CJK JSONL")
    args = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="studio-import-same-") as tmp:
        for src in inputs(Path(tmp), args.big):
            for workers in (1, 2):
                got = {}
                for name, tree in (("base", args.base_src), ("this", ROOT / "src")):
                    got[name] = run(tree, src, Path(tmp) / f"{name}-{src.stem}-{workers}", workers)
                same = got["base"] == got["this"]
                bad += not same
                first = got["this"][0]
                print(
                    f"{'same' if same else 'DIFFERENT'}: {src.name} workers={workers}"
                    f" counts {first['counts']} content {first['content_id']}"
                    f" parquet {str(first['parquet'])[:12]} browse {str(first['browse'])[:12]}"
                    f" rejects {str(first['rejects'])[:12]}",
                    flush=True,
                )
                if not same:
                    print(json.dumps(got, indent=1))
    print("all the same" if not bad else f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
