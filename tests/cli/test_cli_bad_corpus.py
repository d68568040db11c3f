"""The bad-input corpus (tests/fixtures/bad, issue 17) through every command.

Each case runs the CLI as a subprocess with a wall-clock bound and checks: the exit code, no
traceback, exactly one line with the fix (naming the file, and the line where there is one),
and, where the command writes or counts records, read = written + rejected against counts
taken here with plain Python (lines of the files), not from sftforge's own report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad"
TOKENIZER = ROOT / "examples" / "tiny-tokenizer"
CASES: dict[str, dict] = json.loads((BAD / "CASES.json").read_text(encoding="utf-8"))
DATA = sorted(k for k, v in CASES.items() if v["category"] != "recipe")
RECIPES = sorted(k for k, v in CASES.items() if v["category"] == "recipe")
COMMANDS = [
    "convert", "convert-skip", "convert-strict", "validate", "inspect", "tokenize", "lint",
    "export", "run",
]  # fmt: skip
LIMIT = 60  # seconds per command, start-up included


def _count(path: Path) -> int:
    """Records in a JSONL file (its non-blank lines) or a JSON array, counted without sftforge."""
    if not path.exists():
        return 0
    if path.suffix == ".json":
        return len(json.loads(path.read_bytes()))
    if path.suffix == ".parquet":
        return int(pq.read_metadata(path).num_rows)
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


# where each command that skips bad records by default writes: (output, rejects), under ``out``
WRITES = {
    "convert": ("o.jsonl", "o.jsonl.rejects.jsonl"),
    "convert-skip": ("o.jsonl", "o.jsonl.rejects.jsonl"),
    "tokenize": ("t.parquet", "t.rejects.jsonl"),
    "export": ("exp/input.json", "exp/rejects.jsonl"),
    "run": ("run/train.jsonl", "run/rejects.jsonl"),
}


def _cli(args: list[str], cwd: Path) -> tuple[int, str]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sftforge", *args],
        capture_output=True,
        timeout=LIMIT,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "SFTFORGE_CACHE": str(cwd / "c")},
    )
    assert time.monotonic() - start < LIMIT
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    assert "Traceback" not in text, text
    return proc.returncode, text


def _args(command: str, src: Path, out: Path) -> list[str]:
    if command == "convert":
        return ["convert", str(src), str(out / "o.jsonl"), "--to", "sharegpt"]
    if command == "convert-skip":
        return ["convert", str(src), str(out / "o.jsonl"), "--to", "sharegpt", "--on-error", "skip"]
    if command == "convert-strict":
        return ["convert", str(src), str(out / "o.jsonl"), "--to", "sharegpt", "--strict"]
    if command in ("validate", "inspect"):
        return [command, str(src)]
    if command == "tokenize":
        return ["tokenize", str(src), str(out / "t.parquet"), "--tokenizer", str(TOKENIZER),
                "--template", "chatml"]  # fmt: skip
    if command == "lint":
        return ["lint", str(src), "--tokenizer", str(TOKENIZER), "--template", "chatml"]
    if command == "export":
        return ["export", str(src), str(out / "exp"), "--for", "llamafactory", "--model", "m"]
    recipe = out / "recipe.yaml"
    recipe.write_text(
        f"inputs:\n  - path: {json.dumps(str(src))}\noutputs:\n  train: {{format: sharegpt}}\n",
        encoding="utf-8",
    )
    return ["run", str(recipe), "-o", str(out / "run")]


SUMMARIES = ("mixed encodings: ", "mojibake: ")  # validate's summary lines, checked apart


def _fix_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if "Fix:" in ln and not ln.startswith(SUMMARIES)]


def _source(case: str, tmp_path: Path) -> Path:
    if case.endswith("@newline"):  # a file name with a line break must not split the error
        src = tmp_path / "in\nput.jsonl"
        shutil.copy(BAD / case.split("@")[0], src)
        return src
    return BAD / case


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", [*DATA, "dup_keys.jsonl@newline"])
def test_bad_input_through_every_command(tmp_path: Path, case: str, command: str) -> None:
    meta = CASES[case.split("@")[0]]
    src = _source(case, tmp_path)
    shown = str(src).replace("\n", "\\n")
    out = tmp_path / "out"
    out.mkdir()
    rc, text = _cli(_args(command, src, out), tmp_path)
    fixes = _fix_lines(text)
    line = meta["line"]
    total = _count(src) if line is not None else None

    if line is None:  # a whole-file problem: nothing is read, one line says why
        assert rc == 1, text
        assert len(fixes) == 1, text
        assert shown in fixes[0] and all(w in fixes[0] for w in meta["words"]), fixes[0]
        assert not any(p.is_file() and p.suffix == ".jsonl" for p in out.rglob("*")), text
        return

    assert total is not None
    if command in WRITES:  # the default: the bad record rejected, the others written
        assert rc == 0, text
        output, rejects_name = WRITES[command]
        if command == "export":  # the dataset is named after the input file
            output = f"exp/{src.name.split('.')[0].replace(chr(10), '_')}.json"
        written, rejects = out / output, out / rejects_name
        assert (_count(written), _count(rejects)) == (total - 1, 1), text
        [reject] = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
        assert meta["words"][0] in reject["reason"], reject  # the reason, without the fix
        if command != "run":  # the loud summary names the first problem with its place and fix
            assert f"warning: 1 of {total} records rejected" in text, text
            assert len(fixes) == 1 and f"{shown}:{line}" in fixes[0], text
            assert all(w in fixes[0] for w in meta["words"]), fixes[0]
        return
    if command == "lint" and meta["category"] == "content_part":
        # lint reads every record it can and lists the others as findings (0-based rows)
        assert rc == 1 and f"{total} rows, 1 errors" in text, text
        assert "unreadable: 1" in text and f"row {line - 1}: " in text and meta["words"][0] in text
        return
    assert len(fixes) == 1, text
    assert f"{shown}:{line}" in fixes[0], fixes[0]
    assert all(w in fixes[0] for w in meta["words"]), fixes[0]
    if command == "validate":
        assert rc == 1 and f"{total} records, {total - 1} valid, 1 invalid" in text, text
        mixed = f"mixed encodings: the file reads as UTF-8, but 1 record(s) are in another encoding (lines {line})"
        assert (mixed in text) == (meta["category"] == "encoding"), text
    elif command == "inspect":
        assert rc == 0 and f"records:    {total} read, {total - 1} valid, 1 invalid" in text
    else:  # --strict, and lint on a record it cannot read, stop at the first and write nothing
        assert command in ("convert-strict", "lint"), command
        assert rc == 1, text
        assert fixes[0].startswith("error: "), fixes[0]
        assert not any(p.is_file() and p.suffix == ".jsonl" for p in out.rglob("*")), text


@pytest.mark.parametrize("case", RECIPES)
def test_bad_recipe_stops_before_any_work(tmp_path: Path, case: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(BAD / case, proj / case)
    shutil.copy(BAD / "good.jsonl", proj / "good.jsonl")
    rc, text = _cli(["run", str(proj / case), "-o", str(tmp_path / "run")], tmp_path)
    assert rc == 1, text
    errors = [x for x in text.splitlines() if x.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {proj / case}"), text
    assert "Fix:" in errors[0] and all(w in errors[0] for w in CASES[case]["words"]), errors[0]
    assert not (tmp_path / "run" / "train.jsonl").exists()


GOOD = BAD / "good.jsonl"
OPTION_CASES = {
    "convert-workers-0": (["convert", str(GOOD), "o.jsonl", "--to", "sharegpt", "--workers", "0"], "'--workers'"),
    "generate-concurrency-0": (
        ["generate", "respond", str(GOOD), "g.jsonl", "--model", "m", "--base-url",
         "http://127.0.0.1:9/v1", "--concurrency", "0"],
        "'--concurrency'",
    ),
    "tokenize-max-len-0": (
        ["tokenize", str(GOOD), "t.parquet", "--tokenizer", str(TOKENIZER), "--max-len", "0"],
        "'--max-len'",
    ),
    "tokenize-reasoning": (
        ["tokenize", str(GOOD), "t.parquet", "--tokenizer", str(TOKENIZER), "--template", "chatml",
         "--reasoning", "maybe"],
        "Fix: pass --reasoning keep",
    ),
    "export-max-len-0": (["export", str(GOOD), "exp", "--for", "trl", "--max-len", "0"], "'--max-len'"),
    "inspect-format-typo": (["inspect", str(GOOD), "--from", "alpacca"], "did you mean 'alpaca'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_command_option_is_refused_before_any_work(tmp_path: Path, case: str) -> None:
    args, words = OPTION_CASES[case]
    rc, text = _cli(args, tmp_path)
    assert rc in (1, 2), text  # 2: a usage error (out of range), 1: a checked value
    assert words in text, text
    assert not any(p.suffix in (".jsonl", ".parquet") for p in tmp_path.iterdir()), text
