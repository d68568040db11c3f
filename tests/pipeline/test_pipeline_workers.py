"""Worker pools never wait without end: a dead or stuck worker fails the run with one line, the
run resumes, and a killed run (or a worker whose parent is gone) leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pipeline_helpers import HERE, run_cli

_ALIVE_GRACE = 5.0  # seconds a worker may take to notice its parent is gone (it checks at 2 Hz)


def _procs_in(folder: Path) -> list[int]:
    """Live (not zombie) processes whose working folder is ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") != str(folder):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _none_left(folder: Path) -> list[int]:
    deadline = time.monotonic() + _ALIVE_GRACE
    while (left := _procs_in(folder)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def run_folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for pid in _procs_in(tmp_path):  # a failing test must not leave its workers either
        os.kill(pid, signal.SIGKILL)


pytestmark = pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")


def test_worker_whose_parent_died_before_it_started_watching_exits(tmp_path: Path) -> None:
    """The orphan of issue 17: a worker forked just as its parent dies must not watch pid 1."""
    script = f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from sftforge.pipeline.worker import init_worker
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:  # wait until the parent is gone: we are an orphan now
        time.sleep(0.01)
    open("child.pid", "w").write(str(os.getpid()))
    init_worker([], [], [], None, parent)
    time.sleep(60)
    open("still-alive", "w").write("the worker outlived its parent")
    os._exit(0)
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=60)
    deadline = time.monotonic() + 10
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int((tmp_path / "child.pid").read_text())
    assert _none_left(tmp_path) == [], f"worker {pid} still alive after its parent died"


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def test_killed_convert_leaves_no_helper_behind(run_folder: Path) -> None:
    """convert's forked helpers hold the write end of their own task pipe, so a killed parent
    gives them no EOF: they must end with it all the same."""
    row = b'{"conversations": [{"from": "human", "value": "q %d"}, {"from": "gpt", "value": "a"}]}'
    (run_folder / "in.jsonl").write_bytes(b"\n".join(row % i for i in range(200_000)) + b"\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    cli = "import sys; from sftforge.cli.main import main; sys.exit(main())"
    args = ["convert", "in.jsonl", "out.jsonl", "--to", "openai", "--workers", "3"]
    proc = subprocess.Popen(
        [sys.executable, "-c", cli, *args], cwd=run_folder, env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_children(proc.pid)) >= 2, "convert started no helpers"
    proc.kill()
    proc.wait()
    assert _none_left(run_folder) == []


def test_dead_worker_fails_its_chunk_in_one_line_and_the_run_resumes(
    write_recipe: Callable[..., Path], run_folder: Path
) -> None:
    steps = [{"t_strip": {"targets": "all"}}, {"t_fault": {"row": 30}}, "t_dedup"]
    recipe = write_recipe(steps=steps, chunk_size=4)
    clean = run_cli(["run", str(recipe), "-o", "clean", "-w", "2"], run_folder)
    assert clean.returncode == 0, clean.stderr

    died = run_cli(
        ["run", str(recipe), "-o", "r", "-w", "2"], run_folder, {"T_WORKER_FAULT": "die"}
    )
    assert died.returncode == 1
    assert "Traceback" not in died.stderr
    errors = [ln for ln in died.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "ended abruptly" in errors[0], died.stderr
    chunks = re.search(r"chunks ([\d, ]+) in progress", errors[0])
    assert chunks and "7" in chunks.group(1).split(", "), errors[0]  # row 30 is in chunk 7
    assert "run the same command again" in errors[0]
    assert not (run_folder / "r" / "train.jsonl").exists()
    assert _none_left(run_folder) == []

    resumed = run_cli(["run", str(recipe), "-o", "r", "-w", "2"], run_folder)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (run_folder / "r" / name).read_bytes() == (run_folder / "clean" / name).read_bytes()


def test_stuck_worker_fails_the_run_after_the_stall_timeout(
    write_recipe: Callable[..., Path], run_folder: Path
) -> None:
    recipe = write_recipe(steps=[{"t_fault": {"row": 30}}], chunk_size=4)
    start = time.monotonic()
    stuck = run_cli(
        ["run", str(recipe), "-o", "r", "-w", "2", "--stall-timeout", "3"],
        run_folder,
        {"T_WORKER_FAULT": "hang"},
    )
    assert time.monotonic() - start < 60  # the worker sleeps for an hour
    assert stuck.returncode == 1
    assert "Traceback" not in stuck.stderr
    assert "finished no chunk in 3 s" in stuck.stderr
    chunks = re.search(r"chunks ([\d, ]+) in progress", stuck.stderr)
    assert chunks and "7" in chunks.group(1).split(", "), stuck.stderr  # row 30 is in chunk 7
    assert _none_left(run_folder) == []
    resumed = run_cli(["run", str(recipe), "-o", "r", "-w", "2"], run_folder)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stderr


def _busy_loops(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], cwd="/") for _ in range(n)]


def test_kill_and_resume_under_cpu_saturation_leaves_no_process(
    write_recipe: Callable[..., Path], run_folder: Path
) -> None:
    """The hang of issue 17 came from a loaded machine: run the kill/resume case with a busy loop
    per core alongside, and check the killed run's workers are gone (an orphan holding the
    captured stdout open made the test wait past its timeout)."""
    recipe = write_recipe(chunk_size=4)
    hogs = _busy_loops(min(max(os.cpu_count() or 2, 2), 4))
    try:
        killed = run_cli(
            ["run", str(recipe), "-o", "r", "-w", "3"],
            run_folder,
            {"SFTFORGE_TEST_KILL_AFTER_CHUNKS": "3"},
        )
        assert killed.returncode == -signal.SIGKILL
        assert _none_left(run_folder) == []
        resumed = run_cli(["run", str(recipe), "-o", "r", "-w", "3"], run_folder)
        assert resumed.returncode == 0, resumed.stderr
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    clean = run_cli(["run", str(recipe), "-o", "clean", "-w", "1"], run_folder)
    assert clean.returncode == 0, clean.stderr
    for name in ("train.jsonl", "rejects.jsonl"):
        assert (run_folder / "r" / name).read_bytes() == (run_folder / "clean" / name).read_bytes()


def test_a_stuck_convert_helper_fails_the_conversion(run_folder: Path) -> None:
    """A helper that never answers (here: its task sleeps for an hour) stops the conversion
    after SFTFORGE_STALL_TIMEOUT seconds with one error line; no output, no helper left behind.
    (In a child process with a timeout, so a regression fails instead of hanging the suite.)"""
    row = b'{"conversations": [{"from": "human", "value": "q %d"}, {"from": "gpt", "value": "a"}]}'
    (run_folder / "in.jsonl").write_bytes(b"\n".join(row % i for i in range(50_000)) + b"\n")
    script = f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from sftforge import convert
from sftforge.cli.main import main
me, real = os.getpid(), convert._Job.run_all
def run_all(self, task):
    if os.getpid() != me:  # in a forked helper only
        time.sleep(3600)
    return real(self, task)
convert._Job.run_all = run_all
sys.exit(main(["convert", "in.jsonl", "out.jsonl", "--to", "openai", "--workers", "3"]))
"""
    env = dict(os.environ, SFTFORGE_STALL_TIMEOUT="2")
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=run_folder, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "sent nothing for 2 s" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not (run_folder / "out.jsonl").exists()
    assert [p.name for p in run_folder.iterdir() if p.name.endswith(".tmp")] == []
    assert _none_left(run_folder) == []


def test_ctrl_c_stops_the_run_in_one_line_and_leaves_no_worker(
    write_recipe: Callable[..., Path], run_folder: Path
) -> None:
    recipe = write_recipe(steps=[{"t_fault": {"row": 30}}], chunk_size=4)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), str(HERE)]),
        T_WORKER_FAULT="hang",
    )
    cli = "import sys; from sftforge.cli.main import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", cli, "run", str(recipe), "-o", "r", "-w", "2"],
        cwd=run_folder, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are running chunks (one of them hangs)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert _none_left(run_folder) == []
