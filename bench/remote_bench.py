"""Reading remote sources: ``sftforge convert`` from loopback S3 and HTTP servers vs the local file.

    python bench/remote_bench.py                # 52k Alpaca local / HTTP / S3, then 200 MB vs 2 GB
    python bench/remote_bench.py --no-big       # skip the streaming-memory part
    python bench/remote_bench.py --repeat 3     # each command 3 times, the fastest kept

Part 1: the whole command ``sftforge convert <src> out.jsonl --to sharegpt`` as a process, for
the 52,002-record Stanford Alpaca JSON read from the local file, from ``http.server`` on loopback
and from moto's S3 server on loopback (boto3 put the object there), in one run, with the ratio to
the local run and each process's peak RSS (``wait4``). The outputs must be byte-identical.

Part 2: peak RSS of ``sftforge convert http://.../big.jsonl - --to sharegpt`` (output to
/dev/null) for a synthetic JSONL of ``--small-mb`` (200) and ``--big-gb`` (2) from the HTTP server:
flat when reading streams. The files are written to a temporary folder and deleted after.
Results: Markdown on stdout and ``bench/out/remote_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
ALPACA = Path(
    os.environ.get("SFTFORGE_BENCH_ALPACA", str(SHARED_DATA / "stanford_alpaca/alpaca_data.json"))
)
# the CLI's own entry point, reporting its peak RSS (VmHWM: the high-water mark of this process's
# memory since exec; wait4's ru_maxrss would count the bench process it was forked from)
_ENTRY = (
    "import sys\n"
    "from sftforge.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0].split()[1]\n"
    "print(f'VmHWM {hwm}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)
SFTFORGE = [sys.executable, "-c", _ENTRY]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stops reading early is not the bench's concern


def http_server(root: Path) -> tuple[str, ThreadingHTTPServer]:
    server = _Server(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def s3_server() -> tuple[str, Any, Any]:
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        region_name="us-east-1",
    )
    return endpoint, client, server


def timed(argv: list[str], env: dict[str, str], stdout: Any = subprocess.DEVNULL) -> dict[str, Any]:
    """Run ``argv``; wall seconds, CPU seconds (wait4) and peak RSS (VmHWM) of the process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{err.decode()}")
    hwm = int(err.decode().rsplit("VmHWM ", 1)[1].split()[0])
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(hwm / 1024, 1),
    }


def part_alpaca(tmp: Path, env: dict[str, str], http: str, s3: Any, repeat: int) -> list[dict]:
    served = tmp / "served"
    shutil.copyfile(ALPACA, served / "alpaca_data.json")
    s3.create_bucket(Bucket="bench")
    s3.upload_file(str(ALPACA), "bench", "alpaca_data.json")
    sources = {
        "local file": str(ALPACA),
        "HTTP (loopback)": f"{http}/alpaca_data.json",
        "S3 (moto, loopback)": "s3://bench/alpaca_data.json",
    }
    rows: list[dict[str, Any]] = []
    outputs: dict[str, bytes] = {}
    # interleaved: each round runs every source once, so load changes hit them alike
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in sources}
    for _ in range(repeat):
        for label, src in sources.items():
            out = tmp / f"out-{len(outputs)}.jsonl"
            argv = [*SFTFORGE, "convert", src, str(out), "--to", "sharegpt", "--on-error", "skip"]
            results[label].append(timed(argv, env))
            outputs[label] = out.read_bytes()
            out.unlink()
    base = min(r["wall_s"] for r in results["local file"])
    base_cpu = min(r["cpu_s"] for r in results["local file"])
    for label, runs in results.items():
        row = min(runs, key=lambda r: r["wall_s"])
        row |= {"source": label, "ratio": round(row["wall_s"] / base, 2)}
        row["cpu_ratio"] = round(min(r["cpu_s"] for r in runs) / base_cpu, 2)
        row["identical"] = outputs[label] == outputs["local file"]
        rows.append(row)
    return rows


def write_jsonl(path: Path, size: int) -> int:
    """Alpaca records repeated (with a counter so lines differ) up to ``size`` bytes."""
    records = json.loads(ALPACA.read_bytes())
    n = written = 0
    with path.open("wb", buffering=1 << 22) as fh:
        while written < size:
            for r in records:
                line = json.dumps(
                    r | {"instruction": f"{r['instruction']} #{n}"}, ensure_ascii=False
                )
                data = line.encode() + b"\n"
                fh.write(data)
                written += len(data)
                n += 1
                if written >= size:
                    break
    return n


def part_stream(
    tmp: Path, env: dict[str, str], http: str, s3: Any, small_mb: int, big_gb: float
) -> list[dict[str, Any]]:
    """The synthetic file of each size converted from HTTP and from the local file (and, at the
    small size, from S3: moto keeps objects in this process's memory), output to /dev/null."""
    rows = []
    served = tmp / "served"
    for label, size in (
        (f"{small_mb} MB", small_mb * 10**6),
        (f"{big_gb:g} GB", int(big_gb * 10**9)),
    ):
        path = served / "big.jsonl"
        n = write_jsonl(path, size)
        sources = {"local file": str(path), "HTTP": f"{http}/big.jsonl"}
        if size <= small_mb * 10**6:
            s3.upload_file(str(path), "bench", "big.jsonl")
            sources["S3"] = "s3://bench/big.jsonl"
        local_wall = None
        for where, src in sources.items():
            argv = [
                *SFTFORGE, "convert", src, "-", "--to", "sharegpt", "--workers", "1",
                "--on-error", "skip", "--rejects", str(tmp / "big.rejects.jsonl"),
            ]  # fmt: skip
            r = timed(argv, env)
            local_wall = local_wall or r["wall_s"]
            r |= {"input": label, "source": where, "bytes": path.stat().st_size, "records": n}
            r["mb_per_s"] = round(r["bytes"] / 1e6 / r["wall_s"], 1)
            r["ratio"] = round(r["wall_s"] / local_wall, 2)
            rows.append(r)
        if "S3" in sources:
            s3.delete_object(Bucket="bench", Key="big.jsonl")
        path.unlink()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--small-mb", type=int, default=200)
    ap.add_argument(
        "--big-gb", type=float, default=float(os.environ.get("SFTFORGE_BENCH_BIG_GB", 2))
    )
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
    tmp = Path(tempfile.mkdtemp(prefix="sftforge-remote-bench-"))
    try:
        (tmp / "served").mkdir()
        http, hserver = http_server(tmp / "served")
        endpoint, s3, sserver = s3_server()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "SFTFORGE_S3_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        alpaca = part_alpaca(tmp, env, http, s3, args.repeat)
        print(
            "\n| source | wall s | CPU s | wall ratio to local | CPU ratio | peak RSS (MB) "
            "| output identical |"
        )
        print("|---|---:|---:|---:|---:|---:|---|")
        for r in alpaca:
            print(
                f"| {r['source']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['ratio']:.2f}× "
                f"| {r['cpu_ratio']:.2f}× | {r['peak_rss_mb']:.0f} "
                f"| {'yes' if r['identical'] else 'NO'} |"
            )
        stream: list[dict[str, Any]] = []
        if not args.no_big:
            stream = part_stream(tmp, env, http, s3, args.small_mb, args.big_gb)
            print(
                "\n| input | source | bytes | records | wall s | CPU s | MB/s | ratio to local "
                "| peak RSS (MB) |"
            )
            print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
            for r in stream:
                print(
                    f"| {r['input']} | {r['source']} | {r['bytes']:,} | {r['records']:,} "
                    f"| {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['mb_per_s']} "
                    f"| {r['ratio']:.2f}× | {r['peak_rss_mb']:.0f} |"
                )
        hserver.shutdown()
        sserver.stop()
        out = ROOT / "bench" / "out"
        out.mkdir(exist_ok=True)
        (out / "remote_bench.json").write_text(
            json.dumps({"alpaca": alpaca, "stream": stream}, indent=2), encoding="utf-8"
        )
        bad = [r["source"] for r in alpaca if not r["identical"]]
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
