"""The studio's server side at scale: import 52k and 1M rows, then browse the 1M-row version.

    python bench/studio_bench.py                 # 52k Alpaca + a 1M-row JSONL made from it
    python bench/studio_bench.py --rows 200000 --repeat 1

Imports are timed whole, as processes, beside ``sftforge convert`` of the same file to the
native ``sftforge`` JSONL (the closest CLI peer: read, check, write every sample losslessly):
each is ``python`` + imports + reading + writing, CPU from ``wait4`` (user + sys, children
included), peak RSS from ``ru_maxrss``. The import process is the studio's own job body
(``sftforge.studio.imports.import_file``: convert's piece loop, with its worker processes for
inputs of 16 MiB or more -> Parquet version + browse sidecar + SQLite records), without the web
server around it.

Browsing is timed in a fresh process that starts the app (``create_app``) on the imported home
and sends requests through FastAPI's TestClient: each figure is one request's wall time inside
the server process (routing, the handler, JSON of the answer), cold where it says so (the first
request of its kind: the sort order or search is computed), then warm (cached). The process's
peak RSS is reported too.

The 1M-row input is made from the 52k set: records repeated in order, each instruction given a
Chinese topic tag ``[主题:<topic>]`` (one of 20, so one row in 20 per topic) and a serial
``[样本<n>]``, so a Chinese substring search has common and rare targets.
Results: a Markdown table on stdout and ``bench/out/studio_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
ALPACA = SHARED_DATA / "stanford_alpaca/alpaca_data.json"
TOPICS = ("数学", "历史", "编程", "文学", "物理", "化学", "生物", "地理", "音乐", "美术",
          "经济", "法律", "医学", "哲学", "体育", "烹饪", "旅行", "天文", "心理", "教育")  # fmt: skip

IMPORT_CHILD = """
import sys, json, time
from pathlib import Path
from sftforge.studio.store import Store
from sftforge.studio.imports import import_file
src, home = sys.argv[1], Path(sys.argv[2])
store = Store(home)
project = store.create_project("bench", "bench")
dataset = store.create_dataset(project["id"], Path(src).name)
t, c = time.perf_counter(), time.process_time()
row = import_file(store, home / "versions", home / "rejects", dataset["id"], src, user="bench")
row["job_seconds"] = time.perf_counter() - t
row["job_cpu_s"] = time.process_time() - c  # this process's own (not its helpers')
row["dataset_id"] = dataset["id"]
print(json.dumps(row))
"""

# the same import through the API: the app (create_app), a staged file, POST .../imports, the
# job run by the app's job code in this thread (import_workers from argv[3])
API_CHILD = """
import sys, json, time, shutil
from pathlib import Path
from fastapi.testclient import TestClient
from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings
src, home, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
settings = StudioSettings(home=home, open_browser=False, import_workers=workers)
client = TestClient(create_app(settings, run_jobs=False))
(home / "staging").mkdir(parents=True, exist_ok=True)
shutil.copyfile(src, home / "staging" / Path(src).name)
p = client.post("/api/projects", json={"name": "bench"}).json()
d = client.post(f"/api/projects/{p['id']}/datasets", json={"name": "d"}).json()
t, c = time.perf_counter(), time.process_time()
r = client.post(f"/api/datasets/{d['id']}/imports", json={"staged": Path(src).name})
assert r.status_code == 202, r.text
client.app.state.jobs.run_pending()
row = client.get(f"/api/imports/{r.json()['id']}").json()
assert row["status"] == "done", row
row["job_seconds"] = time.perf_counter() - t
row["job_cpu_s"] = time.process_time() - c  # the request and the job (a child's not counted)
print(json.dumps(row))
"""

BROWSE_CHILD = """
import sys, json, time, resource
from pathlib import Path
from fastapi.testclient import TestClient
from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings
home, dataset, rare = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
client = TestClient(create_app(StudioSettings(home=home, open_browser=False), run_jobs=False))
out = {"app_start_s": time.perf_counter() - t0}
base = f"/api/datasets/{dataset}/versions/head"
def timed(name, path, **params):
    t = time.perf_counter()
    r = client.get(path, params=params)
    dt = time.perf_counter() - t
    assert r.status_code == 200, r.text
    body = r.json()
    out[name] = {"s": dt, "total": body.get("total"), "rows": len(body.get("rows", []))}
    return body
timed("first page (cold)", base + "/rows", limit=50)
timed("next page", base + "/rows", limit=50, offset=50)
timed("page 10,000", base + "/rows", limit=50, offset=500000)
timed("sort by chars (cold)", base + "/rows", limit=50, sort="chars", desc=True)
timed("sort by chars, next page", base + "/rows", limit=50, offset=50, sort="chars", desc=True)
timed("sort by tokens_est (cold)", base + "/rows", limit=50, sort="tokens_est")
timed("search rare Chinese (cold)", base + "/rows", limit=50, q=rare)
timed("search rare Chinese, again", base + "/rows", limit=50, q=rare)
timed("search common Chinese (cold)", base + "/rows", limit=50, q="主题:编程")
timed("search common Chinese, next page", base + "/rows", limit=50, offset=50, q="主题:编程")
timed("search + sort by chars", base + "/rows", limit=50, q="主题:编程", sort="chars")
timed("filter chars >= 1000", base + "/rows", limit=50, filter=["chars:ge:1000"])
timed("histogram of chars", base + "/histogram", column="chars")
first = client.get(base + "/rows", params={"limit": 1}).json()["rows"][0]["row_id"]
t = time.perf_counter()
r = client.get(f"/api/datasets/{dataset}/rows/{first}")
out["one row with its sample"] = {"s": time.perf_counter() - t, "total": None, "rows": 1}
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith("Rss"))
    return {k: int(v.split()[0]) // 1024 for k, v in fields.items()}
out["peak_rss_mb_browsing"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["rss_mb_browsing"] = rss()
got = r.json()
sample = got["row"]["sample"]
sample["messages"][-1]["content"] = "改过的回答"
t = time.perf_counter()
r = client.put(f"/api/datasets/{dataset}/rows/{first}",
               json={"sample": sample, "base_revision": got["revision"]})
out["edit one row"] = {"s": time.perf_counter() - t, "total": None, "rows": 1}
assert r.status_code == 200, r.text
t = time.perf_counter()
r = client.post(f"/api/datasets/{dataset}/commit", json={"message": "bench"})
if r.status_code == 202:  # a head over 100,000 rows is committed by a job: run it here
    client.app.state.jobs.run_pending()
    job = client.get(f"/api/jobs/{r.json()['id']}").json()
    assert job["status"] == "done", job
else:
    assert r.status_code == 201, r.text
out["commit 1 edit (new 1M-row version)"] = {"s": time.perf_counter() - t, "total": None, "rows": 0}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["rss_mb_after_commit"] = rss()
print(json.dumps(out, ensure_ascii=False))
"""


def make_big(path: Path, rows: int) -> None:
    """``rows`` JSONL records from the 52k set, each tagged with a topic and a serial."""
    base = orjson.loads(ALPACA.read_bytes())
    with open(path, "wb") as fh:
        buf: list[bytes] = []
        for i in range(rows):
            rec = dict(base[i % len(base)])
            rec["instruction"] = f"{rec['instruction']} [主题:{TOPICS[i % 20]}] [样本{i:07d}]"
            buf.append(orjson.dumps(rec))
            if len(buf) >= 10000:
                fh.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            fh.write(b"\n".join(buf) + b"\n")


def timed_child(cmd: list[str], src: Path | None = None) -> dict[str, Any]:
    """``cmd`` as a child whose own rusage we read (wait4 on its pid); ``src``: the source tree
    it imports sftforge from (default: this one)."""
    env = {**os.environ, "PYTHONPATH": str(src or ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out_chunks: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    out_chunks.append(proc.stdout.read())
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {err.decode()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": b"".join(out_chunks).decode(),
    }


def bench_import(
    src: Path,
    work: Path,
    tag: str,
    home: Path | None = None,
    base: Path | None = None,
    api_workers: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One round: the import, the same through the API (``api_workers``: its import_workers),
    the import of the ``base`` source tree when given, convert."""
    home = home or work / f"home-{tag}"
    studio = timed_child([sys.executable, "-c", IMPORT_CHILD, str(src), str(home)])
    studio["import"] = json.loads(studio.pop("stdout"))
    if api_workers is not None:
        via = timed_child(
            [sys.executable, "-c", API_CHILD, str(src), str(work / f"api-{tag}"), str(api_workers)]
        )
        via["import"] = json.loads(via.pop("stdout"))
        studio["api"] = via
        shutil.rmtree(work / f"api-{tag}")
    if base is not None:
        before = timed_child(
            [sys.executable, "-c", IMPORT_CHILD, str(src), str(work / f"base-{tag}")], base
        )
        before["import"] = json.loads(before.pop("stdout"))
        studio["base"] = before
        shutil.rmtree(work / f"base-{tag}")
    out = work / f"convert-{tag}.jsonl"
    sftforge = str(Path(sys.executable).with_name("sftforge"))
    convert = timed_child([sftforge, "-q", "convert", str(src), str(out), "--to", "sftforge"])
    convert.pop("stdout")
    with open(out, "rb") as fh:
        convert["written"] = sum(1 for _ in fh)
    out.unlink()
    studio["home"] = str(home)
    return studio, convert


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the 52k import")
    ap.add_argument("--keep", type=Path, help="import the big file into this home and keep it")
    ap.add_argument("--base-src", type=Path, metavar="SRC",
                    help="also time the import of another source tree (its src/), in each round")  # fmt: skip
    ap.add_argument("--api-workers", type=int, metavar="N",
                    help="also time the import through the API, with import_workers=N")  # fmt: skip
    ap.add_argument("--skip-big", action="store_true", help="the 52k rounds only")
    ap.add_argument("--browse-only", type=Path, metavar="HOME",
                    help="only time the browsing, on a home kept by --keep")  # fmt: skip
    args = ap.parse_args()
    if args.browse_only:
        return browse_only(args.browse_only, args.rows)
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        work = Path(tmp)
        rounds = []
        for r in range(args.repeat):
            studio, convert = bench_import(
                ALPACA, work, f"52k-{r}", base=args.base_src, api_workers=args.api_workers
            )
            rounds.append((studio, convert))
            print(
                f"52k round {r + 1}: import {studio['wall_s']:.2f}s, convert {convert['wall_s']:.2f}s"
                f" (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        results["52k"] = {
            k: {
                m: statistics.median(x[i][m] for x in rounds)
                for m in ("wall_s", "cpu_s", "peak_rss_mb")
            }
            for i, k in enumerate(("import", "convert"))
        }
        results["52k_rounds"] = [
            {k: {m: x[i][m] for m in ("wall_s", "cpu_s", "peak_rss_mb")}
             for i, k in enumerate(("import", "convert"))} for x in rounds
        ]  # fmt: skip
        for extra in ("base", "api"):
            if extra not in rounds[0][0]:
                continue
            results["52k"][extra] = {
                m: statistics.median(x[0][extra][m] for x in rounds)
                for m in ("wall_s", "cpu_s", "peak_rss_mb")
            }
            for x, out in zip(rounds, results["52k_rounds"], strict=True):
                out[extra] = {m: x[0][extra][m] for m in ("wall_s", "cpu_s", "peak_rss_mb")}
        for x, out in zip(rounds, results["52k_rounds"], strict=True):
            for tool in ("import", "base", "api"):
                got = x[0] if tool == "import" else x[0].get(tool)
                if got is not None:  # inside the process: the import call alone
                    out[tool]["job_s"] = got["import"]["job_seconds"]
                    out[tool]["job_cpu_s"] = got["import"].get("job_cpu_s")
        if args.skip_big:
            print(json.dumps(results, indent=1))
            return 0
        imp = rounds[0][0]["import"]
        results["52k"]["counts"] = {"read": imp["read"], "imported": imp["imported"],
                                    "rejected": imp["rejected"], "convert_written": rounds[0][1]["written"]}  # fmt: skip
        big = work / "big.jsonl"
        t = time.perf_counter()
        make_big(big, args.rows)
        print(
            f"made {args.rows} rows ({big.stat().st_size >> 20} MiB) in {time.perf_counter() - t:.0f}s",
            flush=True,
        )
        studio, convert = bench_import(big, work, "big", args.keep, args.base_src)
        if args.keep:
            (args.keep / "bench.json").write_text(
                json.dumps({"dataset_id": studio["import"]["dataset_id"]})
            )
        print(f"big: import {studio['wall_s']:.1f}s, convert {convert['wall_s']:.1f}s", flush=True)
        imp = studio["import"]
        results["big"] = {
            "rows": args.rows,
            "bytes": big.stat().st_size,
            "import": {m: studio[m] for m in ("wall_s", "cpu_s", "peak_rss_mb")},
            "convert": {m: convert[m] for m in ("wall_s", "cpu_s", "peak_rss_mb")},
            **(
                {"base": {m: studio["base"][m] for m in ("wall_s", "cpu_s", "peak_rss_mb")}}
                if "base" in studio
                else {}
            ),
            "counts": {
                "read": imp["read"],
                "imported": imp["imported"],
                "rejected": imp["rejected"],
                "convert_written": convert["written"],
            },
        }
        big.unlink()
        (HERE / "out").mkdir(exist_ok=True)  # the imports' figures, kept if the browsing fails
        (HERE / "out" / "studio_bench.json").write_text(json.dumps(results, indent=2))
        rare = f"样本{args.rows * 3 // 4:07d}"
        browse = timed_child(
            [sys.executable, "-c", BROWSE_CHILD, studio["home"], imp["dataset_id"], rare]
        )
        results["browse"] = json.loads(browse["stdout"])
        results["browse"]["process_peak_rss_mb"] = browse["peak_rss_mb"]
        versions = Path(studio["home"]) / "versions"
        results["big"]["version_mb"] = {
            p.name.split(".", 1)[1]: p.stat().st_size / 2**20 for p in versions.iterdir()
        }
    results["load_after"] = os.getloadavg()
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "studio_bench.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False)
    )
    report(results)
    return 0


def browse(home: Path, dataset_id: str, rows: int) -> dict[str, Any]:
    rare = f"样本{rows * 3 // 4:07d}"
    child = timed_child([sys.executable, "-c", BROWSE_CHILD, str(home), dataset_id, rare])
    out: dict[str, Any] = json.loads(child["stdout"])
    out["process_peak_rss_mb"] = child["peak_rss_mb"]
    return out


def browse_only(home: Path, rows: int) -> int:
    """Time the browsing again on a kept home (after a change to browse.py)."""
    before = os.getloadavg()
    dataset_id = json.loads((home / "bench.json").read_text())["dataset_id"]
    result = browse(home, dataset_id, rows)
    print(f"load average before {before}, after {os.getloadavg()}")
    print_browse(result)
    return 0


def print_browse(b: dict[str, Any]) -> None:
    print("\n| request on the 1M-row version | ms | total rows |")
    print("|---|---:|---:|")
    for name, v in b.items():
        if isinstance(v, dict) and "s" in v:
            total = v["total"] if v["total"] is not None else ""
            print(f"| {name} | {v['s'] * 1000:.0f} | {total} |")
    print(f"app start {b['app_start_s']:.2f}s; browse process peak RSS "
          f"{b['process_peak_rss_mb']:.0f} MB; before the commit: peak "
          f"{b['peak_rss_mb_browsing']:.0f} MB, now {b['rss_mb_browsing']} (anon/file/shmem MB); "
          f"after it {b['rss_mb_after_commit']}")  # fmt: skip


def report(r: dict[str, Any]) -> None:
    print(f"\nload average before {r['load_before']}, after {r['load_after']}")
    print("\n| input | tool | wall s | CPU s | peak RSS MB | convert ÷ import, wall | CPU |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, name in (("52k", "52k Alpaca JSON"), ("big", f"{r['big']['rows']:,}-row JSONL")):
        conv = r[key]["convert"]
        for tool in ("base", "import", "api", "convert"):
            m = r[key].get(tool)
            if m is None:
                continue
            print(
                f"| {name} | {tool} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {m['peak_rss_mb']:.0f}"
                f" | {conv['wall_s'] / m['wall_s']:.2f}× | {conv['cpu_s'] / m['cpu_s']:.2f}× |"
            )
        print(f"counts {key}: {r[key]['counts']}")
    print(f"version files (MB): {r['big']['version_mb']}")
    print_browse(r["browse"])


if __name__ == "__main__":
    sys.exit(main())
