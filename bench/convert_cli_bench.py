"""``sftforge convert`` as a user runs it, against a stdlib-json script and ``datasets``.

    python bench/convert_cli_bench.py               # 1k and 52k, 5 interleaved rounds
    python bench/convert_cli_bench.py --repeat 9 --sizes 1k

Each tool is a process timed whole, file to file (interpreter start, imports, reading, converting,
writing), the tools taking turns within each round so that a loaded machine slows all of them
alike. Figures are medians over the rounds: CPU seconds (user + sys of the process and the
children it waited for, from ``wait4``), wall seconds, and peak RSS (``ru_maxrss``; the largest
of the process and its helpers).

- sftforge: ``sftforge convert IN OUT --to sharegpt`` (the console script, default options: one
  process below 16 MiB of input, else this process and one forked helper on a 2-core machine);
  sftforge-w1: the same with ``--workers 1``.
- sftforge-base (with ``--base-src DIR``): the same as sftforge with another tree's ``src`` (e.g.
  ``git archive`` of an older commit): before and after a change, side by side in one run.
- stdlib: ``python bench/stdlib_convert.py IN OUT``, the same conversion with the ``json`` module.
- orjson: ``python bench/orjson_convert.py IN OUT``, the script's loop with orjson and no checks
  (whole input in memory): a reference, not a peer. On a small input its time is about the
  least any converter built on orjson (as sftforge's reader and writer are) can take: the
  interpreter and orjson's import.
- datasets: ``load_dataset("json")`` + ``map`` with the stdlib script's own function +
  ``to_json`` (fresh cache folder each run), the common way with Hugging Face ``datasets``
  (its rows all have the same columns, so a conversation without a system prompt or tools gets
  ``null`` ones).

Sizes: "1k" = 1,000 Chinese multi-turn conversations in OpenAI ``messages`` JSONL, made from
LLaMA-Factory's ``glaive_toolcall_zh_demo`` (300, with tools, tool calls and tool results) and
``alpaca_zh_demo`` (700 conversations of 2-4 exchanges, a quarter with a system prompt);
"52k" = the Stanford Alpaca JSON array. Before timing, the bench checks that sftforge writes what
the stdlib script writes: the same bytes at 1k; at 52k the same lines, less the ones sftforge
sent to its rejects file (empty answers, control characters) which the script does not check.

Environment: ``SFTFORGE_BENCH_DATASETS_PYTHON`` (a Python with ``datasets``; default: this one if
it has it, else a venv in ``.bench-venvs/datasets``). Results: a Markdown table on stdout and
``bench/out/convert_cli_bench.json``.
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
from typing import Any

from _shared import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
LF = SHARED_DATA / "llama_factory/data"
ALPACA = SHARED_DATA / "stanford_alpaca/alpaca_data.json"
TOOLS = ("sftforge", "sftforge-w1", "stdlib", "orjson", "datasets")

DATASETS_CHILD = """
import sys, tempfile
sys.path.insert(0, sys.argv[3])
import datasets
from stdlib_convert import sharegpt
def row(rec):  # every row needs the same columns: system and tools are null where absent
    out = sharegpt(rec)
    return out if "instruction" in rec else {"system": None, "tools": None, **out}
datasets.disable_progress_bars()
with tempfile.TemporaryDirectory() as cache:
    ds = datasets.load_dataset("json", data_files=sys.argv[1], split="train", cache_dir=cache)
    ds.map(row, remove_columns=ds.column_names).to_json(sys.argv[2], force_ascii=False)
"""


# -- the 1k Chinese set ------------------------------------------------------------------------
def _openai_from_sharegpt(rec: dict[str, Any]) -> dict[str, Any]:
    """A glaive ShareGPT record as OpenAI messages: function_call -> tool_calls, observation -> tool."""
    msgs: list[dict[str, Any]] = []
    for turn in rec["conversations"]:
        if turn["from"] == "function_call":
            call = json.loads(turn["value"])
            args = json.dumps(call["arguments"], ensure_ascii=False)
            fn = {"name": call["name"], "arguments": args}
            msgs.append({"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": fn}]})  # fmt: skip
        else:
            role = {"human": "user", "gpt": "assistant", "observation": "tool"}[turn["from"]]
            msgs.append({"role": role, "content": turn["value"]})
    tools = [{"type": "function", "function": t} for t in json.loads(rec["tools"])]
    return {"messages": msgs, "tools": tools} if tools else {"messages": msgs}


def make_zh_1k(path: Path) -> None:
    glaive = json.loads((LF / "glaive_toolcall_zh_demo.json").read_text("utf-8"))
    alpaca = json.loads((LF / "alpaca_zh_demo.json").read_text("utf-8"))
    rows = [_openai_from_sharegpt(r) for r in glaive]
    for k in range(1000 - len(rows)):
        msgs = [{"role": "system", "content": "你是一个乐于助人的助手。"}] if k % 4 == 0 else []
        for j in range(2 + k % 3):
            r = alpaca[(3 * k + j) % len(alpaca)]
            prompt = "\n".join(x for x in (r["instruction"], r["input"]) if x)
            msgs += [{"role": "user", "content": prompt}, {"role": "assistant", "content": r["output"]}]  # fmt: skip
        rows.append({"messages": msgs})
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# -- running one tool --------------------------------------------------------------------------
def datasets_python() -> str:
    given = os.environ.get("SFTFORGE_BENCH_DATASETS_PYTHON")
    if given:
        return given
    if (
        subprocess.run([sys.executable, "-c", "import datasets"], capture_output=True).returncode
        == 0
    ):
        return sys.executable
    from convert_bench import datasets_python as venv_python

    return venv_python()


def command(tool: str, src: Path, dst: Path, hf_python: str) -> list[str]:
    if tool.startswith("sftforge"):  # sftforge, sftforge-w1, sftforge-base
        cmd = [str(Path(sys.executable).parent / "sftforge"), "convert", str(src), str(dst), "--to", "sharegpt"]  # fmt: skip
        return [*cmd, "--workers", "1"] if tool == "sftforge-w1" else cmd
    if tool in ("stdlib", "orjson"):
        return [sys.executable, str(HERE / f"{tool}_convert.py"), str(src), str(dst)]
    return [hf_python, "-c", DATASETS_CHILD, str(src), str(dst), str(HERE)]


def run_once(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """One process, timed whole: CPU (user + sys, with the children it waited for), wall, peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def check_outputs(size: str, ours: Path, script: Path, rejects: Path) -> str:
    """sftforge's output against the stdlib script's: identical, or identical less its rejects."""
    a = ours.read_bytes().splitlines()
    b = script.read_bytes().splitlines()
    if a == b:
        return "identical"
    rejected = sum(1 for _ in rejects.open("rb")) if rejects.exists() else 0
    it = iter(b)
    if all(line in it for line in a) and len(b) - len(a) == rejected:
        return f"identical less the {rejected} rejected records"
    raise SystemExit(f"{size}: sftforge and the stdlib script wrote different records")


# -- the bench ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--sizes", default="1k,52k", help="1k, 52k or both (default)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="default: every tool above")
    parser.add_argument("--base-src", type=Path, help="adds sftforge-base: sftforge from this src")
    parser.add_argument("--make-zh-1k", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--check", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_zh_1k:
        make_zh_1k(args.make_zh_1k)
        return
    if args.check:
        print(check_outputs(args.check[0], *map(Path, args.check[1:])))
        return
    sizes = [s for s in args.sizes.split(",") if s]
    tools = [t for t in args.tools.split(",") if t]
    if args.base_src and "sftforge-base" not in tools:
        tools.append("sftforge-base")
    hf_python = datasets_python() if "datasets" in tools else ""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    # as installed: modules load from their cached bytecode (written by the warm-up runs below)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    envs = {t: env for t in tools}
    if args.base_src:
        envs["sftforge-base"] = dict(env, PYTHONPATH=str(args.base_src.resolve()))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sftforge-cli-bench-") as tmp:
        work = Path(tmp)
        inputs = {"1k": work / "zh_1k.openai.jsonl", "52k": ALPACA}
        # made in a child: this process stays small (a child's peak RSS starts from this
        # process's at the fork; it would floor every figure)
        subprocess.run([sys.executable, __file__, "--make-zh-1k", str(inputs["1k"])], check=True)
        checks: dict[str, str] = {}
        for size in sizes:
            src = inputs[size]
            outs = {t: work / f"{size}.{t}.jsonl" for t in tools}
            for tool in tools:  # a warm-up run each: bytecode written, files in the page cache
                run_once(command(tool, src, outs[tool], hf_python), envs[tool])
            if "sftforge" in tools and "stdlib" in tools:
                rejects = f"{outs['sftforge']}.rejects.jsonl"
                # in a child, as the data is made: this process stays small
                checks[size] = subprocess.run(
                    [sys.executable, __file__, "--check", size, str(outs["sftforge"]),
                     str(outs["stdlib"]), rejects],
                    check=True, capture_output=True, text=True,
                ).stdout.strip()  # fmt: skip
        times: dict[tuple[str, str], list[dict[str, float]]] = {}
        for rnd in range(args.repeat):
            for size in sizes:
                order = tools[rnd % len(tools) :] + tools[: rnd % len(tools)]
                for tool in order:
                    out = work / f"{size}.{tool}.jsonl"
                    got = run_once(command(tool, inputs[size], out, hf_python), envs[tool])
                    times.setdefault((size, tool), []).append(got)
        for size in sizes:
            src = inputs[size]
            for tool in tools:
                runs = times[(size, tool)]
                out = work / f"{size}.{tool}.jsonl"
                rows.append({
                    "size": size, "tool": tool, "input_mb": src.stat().st_size / 1e6,
                    "records_out": sum(1 for _ in out.open("rb")),
                    "cpu": statistics.median(r["cpu"] for r in runs),
                    "wall": statistics.median(r["wall"] for r in runs),
                    "rss_mb": max(r["rss_mb"] for r in runs),
                    "runs": runs,
                })  # fmt: skip
    print(table(rows))
    print()
    for size, verdict in checks.items():
        print(f"{size}: sftforge's output vs the stdlib script's: {verdict}")
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "convert_cli_bench.json").write_text(
        json.dumps({"rows": rows, "checks": checks, "load": os.getloadavg()}, indent=1), "utf-8"
    )


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| input | tool | records out | CPU s | wall s | peak RSS MB | sftforge faster, CPU "
        "| sftforge faster, wall |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours = next((o for o in rows if o["size"] == r["size"] and o["tool"] == "sftforge"), None)
        cpu = wall = "–"
        if ours is not None and r["tool"] != "sftforge":
            cpu = f"{r['cpu'] / ours['cpu']:.2f}×"
            wall = f"{r['wall'] / ours['wall']:.2f}×"
        lines.append(
            f"| {r['size']} | {r['tool']} | {r['records_out']:,} | {r['cpu']:.3f} | "
            f"{r['wall']:.3f} | {r['rss_mb']:.0f} | {cpu} | {wall} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
