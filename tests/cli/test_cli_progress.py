"""Progress: bars with records/s and ETA on a terminal (a real pty), one plain line per stage
otherwise, nothing but errors under ``--quiet``, and the pipeline's worker processes reporting
their records to the parent's stage bars and lines."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from sftforge import progress
from sftforge.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _alpaca(path: Path, n: int, dups: int = 0) -> Path:
    rows = [
        {"instruction": f"问题 {i}: what is {i} + {i}?", "input": "", "output": f"{2 * i}"}
        for i in range(n)
    ]
    rows += rows[:dups]  # exact duplicates for dedup_exact to drop
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return path


def _recipe(tmp_path: Path, data: Path) -> Path:
    recipe = {
        "chunk_size": 7,
        "inputs": [{"path": data.name, "name": "raw"}],
        "steps": [{"clean": {}}, {"dedup_exact": {}}, {"length_filter": {"min": 1}}],
        "outputs": {"train": {"format": "alpaca", "path": "train.jsonl"}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="160", TERM="xterm-256color", **extra)
    env.pop("SFTFORGE_PROGRESS", None)
    return env


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, stdout and stderr pipes (not terminals)."""
    cmd = [sys.executable, "-m", "sftforge", *args]
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)


def _cli_on_pty(args: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """The CLI with stderr on a pseudo-terminal (stdout a pipe): (rc, screen text, stdout)."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "sftforge", *args]
    stdout = cwd / "stdout.bin"  # a file, not a pipe: a full pipe would block the child
    with stdout.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stderr=slave, stdout=fh)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        raw += chunk
    rc = proc.wait(timeout=120)
    os.close(master)
    out = stdout.read_bytes()
    screen = ANSI_RE.sub("", raw.decode("utf-8", "replace").replace("\r", "\n"))
    return rc, screen, out


def test_convert_on_a_terminal_shows_a_bar_with_rate_and_eta(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", 5000)
    rc, screen, out = _cli_on_pty(["convert", str(src), "-", "--to", "sharegpt"], tmp_path)
    assert rc == 0
    frames = [line for line in screen.splitlines() if line.startswith("reading")]
    assert frames, screen
    # the last frame: every record, a rate, the elapsed time and the ETA (by bytes: now 0)
    assert re.search(r"5,000 records\s+[\d,.]+ records/s\s+\d:\d\d:\d\d\s+ETA 0:00:00", frames[-1])
    # stdout is the data only: no bar, no escape codes
    lines = out.splitlines()
    assert len(lines) == 5000 and b"\x1b" not in out
    assert orjson.loads(lines[0])["conversations"][0]["from"] == "human"


def test_run_on_a_terminal_shows_a_bar_per_stage_fed_by_the_workers(tmp_path: Path) -> None:
    _alpaca(tmp_path / "raw.jsonl", 60, dups=5)
    recipe = _recipe(tmp_path, tmp_path / "raw.jsonl")
    rc, screen, _ = _cli_on_pty(["run", str(recipe), "-o", "out", "-w", "2"], tmp_path)
    assert rc == 0, screen
    last: dict[str, str] = {}
    for line in screen.splitlines():
        m = re.match(r"(stage \d/3 \([a-z_ ]+\)) .*?([\d,/]+ records\s+[\d,.]+ records/s)", line)
        if m:
            last[m[1]] = m[2]
    # the last frame of each stage: the records the two worker processes reported (65 read,
    # 60 after dedup), with a rate
    assert [last.get(k, "").split()[0] for k in sorted(last)] == ["65", "65/65", "60"], screen


def test_run_without_a_terminal_prints_one_line_per_stage(tmp_path: Path) -> None:
    _alpaca(tmp_path / "raw.jsonl", 60, dups=5)
    recipe = _recipe(tmp_path, tmp_path / "raw.jsonl")
    done = _cli(["run", str(recipe), "-o", "out", "-w", "2"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    pattern = (
        r"stage (\d)/3 \(([a-z_ ]+)\): (\d+) chunks, (\d+) records, \d+\.\d s(, [\d,]+ records/s)?"
    )
    got = [re.fullmatch(pattern, line) for line in lines]
    assert all(got), lines
    # 65 records in chunks of 7 (10 chunks) went through the workers of stage 1; dedup saw 65
    # and kept 60, which the last stage (workers again) got
    assert [(m[1], m[2], m[3], m[4]) for m in got if m] == [
        ("1", "clean", "10", "65"),
        ("2", "dedup_exact", "10", "65"),
        ("3", "length_filter", "10", "60"),
    ]
    assert "\x1b" not in done.stderr
    assert done.stdout.startswith("read 65, kept 60, rejected 5")


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_nothing_but_errors(tmp_path: Path, where: str) -> None:
    src = _alpaca(tmp_path / "in.jsonl", 20)
    base = ["convert", str(src), str(tmp_path / "o.json"), "--to", "alpaca"]

    def quiet(args: list[str]) -> list[str]:
        return ["--quiet", *args] if where == "before" else [*args, "-q"]

    done = _cli(quiet(base), tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert len(orjson.loads((tmp_path / "o.json").read_bytes())) == 20
    # without --quiet the same command says what it did
    assert "read 20 = written 20 + rejected 0" in _cli(base, tmp_path).stderr
    # an error still prints, as its one line
    bad = _cli(quiet([*base, "--from", "nope"]), tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1


def test_quiet_run_keeps_stderr_empty_on_a_terminal(tmp_path: Path) -> None:
    _alpaca(tmp_path / "raw.jsonl", 30, dups=2)
    recipe = _recipe(tmp_path, tmp_path / "raw.jsonl")
    rc, screen, out = _cli_on_pty(["run", str(recipe), "-o", "out", "--quiet"], tmp_path)
    assert rc == 0
    assert screen.strip() == ""
    assert out.startswith(b"read 32, kept 30, rejected 2")  # stdout, the result, stays


def test_line_mode_heartbeat_and_final_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.0)
    monkeypatch.setattr(progress, "_REFRESH_S", 0.0)
    progress.configure(mode="line")
    try:
        with progress.stage("respond", 4, unit="items", line=True) as st:
            st.advance(2)
    finally:
        progress.configure(mode="off")
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"respond: 2 of 4 items, [\d.,]+ items/s, ETA \d:\d\d:\d\d", err[0])
    assert re.fullmatch(r"respond: 2 items in \d+\.\d s \([\d.,]+ items/s\)", err[-1])


def test_library_is_silent_and_env_forces_a_mode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with progress.stage("quiet by default", 3, line=True) as st:
        st.advance(3)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SFTFORGE_PROGRESS", "off")
    assert progress.configure() == "off"
    monkeypatch.setenv("SFTFORGE_PROGRESS", "bar")
    assert progress.configure() == "bar"
    assert progress.configure(quiet=True) == "off"
    progress.configure(mode="off")


def test_in_process_main_leaves_the_library_silent(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", 3)
    assert main(["convert", str(src), str(tmp_path / "o.jsonl"), "--to", "alpaca"]) == 0
    assert progress.mode() == "off"


@pytest.mark.parametrize("command", ["inspect", "lint"])
def test_single_stage_commands_print_their_line_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    src = _alpaca(tmp_path / "in.jsonl", 20)
    main([command, str(src)])
    err = capsys.readouterr().err
    assert re.fullmatch(rf"{command}: 20 records in \d+\.\d s \([\d.,]+ records/s\)\n", err), err
    main([command, str(src), "-q"])
    assert capsys.readouterr().err == ""
    # a failed stage prints its error, not a stage line
    assert main([command, str(tmp_path / "missing.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1
