"""Convert the 52k Alpaca set with sftforge and with Hugging Face ``datasets``, side by side.

    python bench/convert_bench.py            # both tools, four conversions, then the 2 GB stream test
    python bench/convert_bench.py --no-big   # skip the 2 GB streaming test
    python bench/convert_bench.py --repeat 3 # each measurement 3 times, the fastest kept

Tools: "sftforge" (one process), "sftforge-2proc" (``convert(workers=2)``: the main process
cuts the input into unparsed pieces, writes the output and decodes whenever its one forked helper
has two tasks waiting; the helper decodes the rest) and "datasets". Conversions:
alpaca -> sharegpt, sharegpt -> alpaca, alpaca -> openai, openai -> alpaca. The
"back" conversions read the file sftforge wrote in the forward step, so both tools always read the
same input. The ``datasets`` path is the common way: ``load_dataset("json")`` + ``map`` with a plain
Python function + ``to_json``, with a fresh cache folder per run. Every measurement runs in its own
subprocess, so peak RSS (VmHWM of the child; its workers' ``ru_maxrss`` apart) is per path; time covers the conversion, not interpreter
start-up or imports. Results: a Markdown table on stdout and ``bench/out/convert_bench.json``.

Environment: ``SFTFORGE_BENCH_ALPACA`` (the Alpaca JSON, default the shared copy),
``SFTFORGE_BENCH_DATASETS_PYTHON`` (a Python that has ``datasets``; default: a venv in
``.bench-venvs/datasets``, created on first use),
``SFTFORGE_BENCH_BIG_GB`` (size of the streaming test input, default 2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
ALPACA = Path(
    os.environ.get("SFTFORGE_BENCH_ALPACA", str(SHARED_DATA / "stanford_alpaca/alpaca_data.json"))
)
CONVERSIONS = [
    ("alpaca", "sharegpt"),
    ("sharegpt", "alpaca"),
    ("alpaca", "openai"),
    ("openai", "alpaca"),
]


# -- the two conversion paths (run inside a child process) -----------------------------------
def _user(instruction: str, inp: str) -> str:
    return f"{instruction}\n{inp}" if inp else instruction


def _hf_mapper(src: str, dst: str) -> Any:
    def alpaca_sharegpt(r: dict[str, Any]) -> dict[str, Any]:
        return {
            "conversations": [
                {"from": "human", "value": _user(r["instruction"], r["input"])},
                {"from": "gpt", "value": r["output"]},
            ]
        }

    def alpaca_openai(r: dict[str, Any]) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "user", "content": _user(r["instruction"], r["input"])},
                {"role": "assistant", "content": r["output"]},
            ]
        }

    def sharegpt_alpaca(r: dict[str, Any]) -> dict[str, Any]:
        turns = r["conversations"]
        return {"instruction": turns[0]["value"], "input": "", "output": turns[1]["value"]}

    def openai_alpaca(r: dict[str, Any]) -> dict[str, Any]:
        msgs = r["messages"]
        return {"instruction": msgs[0]["content"], "input": "", "output": msgs[1]["content"]}

    return {
        ("alpaca", "sharegpt"): alpaca_sharegpt,
        ("alpaca", "openai"): alpaca_openai,
        ("sharegpt", "alpaca"): sharegpt_alpaca,
        ("openai", "alpaca"): openai_alpaca,
    }[(src, dst)]


def _peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM of its own address space. (``ru_maxrss`` is not
    reset by exec on Linux, so a child would report its parent's peak when that was higher.)"""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished children (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def child(tool: str, src: str, src_fmt: str, dst: str, dst_fmt: str) -> dict[str, Any]:
    if tool.startswith("sftforge"):
        from sftforge.convert import convert

        workers = 2 if tool == "sftforge-2proc" else 1
        cpu0, start = _cpu(), time.perf_counter()
        res = convert(
            src, dst, dst_fmt, from_=src_fmt, on_error="skip", rejects=dst + ".rejects.jsonl",
            workers=workers,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        read, written, rejected = res.read, res.written, res.rejected
    else:
        import datasets

        datasets.disable_progress_bars()
        with tempfile.TemporaryDirectory() as cache:
            cpu0, start = _cpu(), time.perf_counter()
            ds = datasets.load_dataset("json", data_files=src, split="train", cache_dir=cache)
            out = ds.map(_hf_mapper(src_fmt, dst_fmt), remove_columns=ds.column_names)
            out.to_json(dst, force_ascii=False)
            seconds = time.perf_counter() - start
            read, written, rejected = len(ds), len(out), 0
    peak = _peak_rss()
    return {
        "read": read,
        "written": written,
        "rejected": rejected,
        "seconds": seconds,
        "peak_rss": peak,
        "cpu_seconds": _cpu() - cpu0,
        "workers_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


# -- the parent: run children, compare ---------------------------------------------------------
def datasets_python() -> str:
    given = os.environ.get("SFTFORGE_BENCH_DATASETS_PYTHON")
    if given:
        return given
    for venv in (ROOT / ".bench-venvs" / "datasets",):
        py = venv / "bin" / "python"
        if (
            py.exists()
            and subprocess.run([py, "-c", "import datasets"], capture_output=True).returncode == 0
        ):
            return str(py)
    venv = ROOT / ".bench-venvs" / "datasets"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "datasets"], check=True)
    return str(venv / "bin" / "python")


def run_child(python: str, tool: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [python, str(Path(__file__).resolve()), "--child", tool, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tool} {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(repeat: int, python: str, tool: str, *args: str) -> dict[str, Any]:
    """The run with the least wall time of ``repeat`` (a busy machine only ever adds time)."""
    runs = [run_child(python, tool, *args) for _ in range(max(1, repeat))]
    return min(runs, key=lambda r: r["seconds"])


def side_by_side(work: Path, hf_python: str, repeat: int = 1) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    made = {"alpaca": str(ALPACA)}
    for src_fmt, dst_fmt in CONVERSIONS:
        src = made[src_fmt]
        tools = (
            ("sftforge", sys.executable),
            ("sftforge-2proc", sys.executable),
            ("datasets", hf_python),
        )
        for tool, python in tools:
            dst = str(work / f"{tool}.{src_fmt}-{dst_fmt}.jsonl")
            res = best_of(repeat, python, tool, src, src_fmt, dst, dst_fmt)
            size = os.path.getsize(src)
            res.update(
                tool=tool, conversion=f"{src_fmt} -> {dst_fmt}", input_mb=size / 1e6,
                records_per_s=res["read"] / res["seconds"], mb_per_s=size / 1e6 / res["seconds"],
            )  # fmt: skip
            rows.append(res)
            if tool == "sftforge" and src_fmt == "alpaca":
                made[dst_fmt] = dst
    return rows


def big_stream(work: Path, gigabytes: float) -> dict[str, Any]:
    """A JSONL of repeated Alpaca records of ``gigabytes`` size, converted to ShareGPT."""
    import orjson

    blob = b"".join(orjson.dumps(r) + b"\n" for r in orjson.loads(ALPACA.read_bytes()))
    src = work / "big.alpaca.jsonl"
    target = int(gigabytes * 1e9)
    written = 0
    with src.open("wb") as fh:
        while written < target:
            fh.write(blob)
            written += len(blob)
    del blob
    dst = work / "big.sharegpt.jsonl"
    res = run_child(sys.executable, "sftforge", str(src), "alpaca", str(dst), "sharegpt")
    res.update(
        tool="sftforge", conversion="alpaca -> sharegpt (stream)", input_mb=written / 1e6,
        records_per_s=res["read"] / res["seconds"], mb_per_s=written / 1e6 / res["seconds"],
    )  # fmt: skip
    src.unlink()
    dst.unlink()
    return res


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| conversion | tool | records | seconds | CPU s | records/s | MB/s | peak RSS (MB) | workers' peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        workers = r.get("workers_peak_rss") or 0
        lines.append(
            f"| {r['conversion']} | {r['tool']} | {r['read']} | {r['seconds']:.2f} | "
            f"{r['cpu_seconds']:.2f} | "
            f"{r['records_per_s']:,.0f} | {r['mb_per_s']:.1f} | {r['peak_rss'] / 1e6:.0f} | "
            f"{workers / 1e6:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=5, metavar=("TOOL", "SRC", "SRC_FMT", "DST", "DST_FMT"))
    parser.add_argument("--no-big", action="store_true", help="skip the 2 GB streaming test")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each measurement N times, keep the fastest"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if not ALPACA.exists():
        raise SystemExit(f"{ALPACA} not found: set SFTFORGE_BENCH_ALPACA to the Alpaca JSON")
    hf_python = datasets_python()
    with tempfile.TemporaryDirectory(prefix="sftforge-bench-", dir="/tmp") as tmp:
        work = Path(tmp)
        rows = side_by_side(work, hf_python, args.repeat)
        big = (
            None
            if args.no_big
            else big_stream(work, float(os.environ.get("SFTFORGE_BENCH_BIG_GB", "2")))
        )
    print(table(rows))
    ratios: dict[str, float] = {}
    for conv in sorted({r["conversion"] for r in rows}):
        theirs = next(r for r in rows if r["conversion"] == conv and r["tool"] == "datasets")
        for tool in ("sftforge", "sftforge-2proc"):
            ours = next(r for r in rows if r["conversion"] == conv and r["tool"] == tool)
            ratios[f"{conv} ({tool}, wall)"] = theirs["seconds"] / ours["seconds"]
            ratios[f"{conv} ({tool}, CPU)"] = theirs["cpu_seconds"] / ours["cpu_seconds"]
    print()
    for conv, ratio in ratios.items():
        print(f"speed-up over datasets, {conv}: {ratio:.1f}x")
    if big is not None:
        print()
        print(table([big]))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "convert_bench.json").write_text(
        json.dumps({"rows": rows, "speedup": ratios, "big": big}, indent=2), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
