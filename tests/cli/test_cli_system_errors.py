"""System failures are one line naming the path and the fix, exit 1, no partial outputs, and the
run resumes: disk full (a small tmpfs in a private mount namespace), a read-only or impossible
output folder, a self-symlink input. And ``convert`` never writes over its own input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sftforge.cli.main import main
from sftforge.sample import Message, Sample

SRC = Path(__file__).resolve().parents[2] / "src"
CLI = [sys.executable, "-c", "import sys; from sftforge.cli.main import main; sys.exit(main())"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
RECIPE = """inputs: [{path: big.jsonl, name: big}]
steps: []
chunk_size: 500
outputs: {train: {format: sftforge, path: train.jsonl}}
"""


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Fix:" in errors[0], errors[0]
    return errors[0]


def _big_input(folder: Path, n: int = 3000) -> Path:
    path = folder / "big.jsonl"
    with path.open("wb") as fh:
        for i in range(n):
            s = Sample([Message("user", f"q {i} " + "x" * 200), Message("assistant", f"回答 {i}")])
            fh.write(s.to_json() + b"\n")
    (folder / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    return path


def _private_mounts() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = "mkdir -p /tmp/.sftforge-probe && mount -t tmpfs -o size=64k tmpfs /tmp/.sftforge-probe"
    res = subprocess.run(["unshare", "-m", "sh", "-c", probe], capture_output=True, check=False)
    return res.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _private_mounts(), reason="needs root and unshare -m (mount a tmpfs in a private namespace)"
)


def _in_namespace(script: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), CLI=" ".join(f"'{a}'" for a in CLI))
    res = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr


def _files(listing: Path) -> list[str]:
    return sorted(listing.read_text(encoding="utf-8").split())


@needs_mounts
@pytest.mark.parametrize(("size", "where"), [("64k", "chunks"), ("1600k", "final write")])
def test_run_on_a_full_disk_fails_in_one_line_and_resumes(
    tmp_path: Path, size: str, where: str
) -> None:
    _big_input(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size={size} tmpfs disk
set +e
eval "$CLI" run recipe.yaml -o disk/run -w 2 > out1 2> err1; echo $? > rc1
set -e
(cd disk/run && find . -type f ! -path './.work/*' | sort) > ls1
(cd disk/run && find ./.work -name 'manifest.json') > work1
mount -o remount,size=64m disk
eval "$CLI" run recipe.yaml -o disk/run -w 2 > out2 2> err2
(cd disk/run && find . | sort) > ls2
cp disk/run/train.jsonl train.jsonl
"""
    _in_namespace(script, tmp_path)
    assert (tmp_path / "rc1").read_text().strip() == "1"
    line = _one_error_line((tmp_path / "err1").read_text(encoding="utf-8"))
    assert "no space left on the device [errno 28]" in line and "disk/run" in line
    assert "run the same command again" in line
    assert _files(tmp_path / "ls1") == [], f"partial outputs after a full disk ({where})"
    assert (tmp_path / "work1").read_text().strip(), "the checkpoint is gone: not resumable"
    assert sorted(
        p for p in _files(tmp_path / "ls2") if p != "."
    ) == [
        "./recipe.lock.yaml", "./rejects.jsonl", "./report.html", "./report.json", "./train.jsonl",
    ]  # fmt: skip
    assert (tmp_path / "train.jsonl").read_bytes().count(b"\n") == 3000


@needs_mounts
def test_convert_on_a_full_disk_fails_in_one_line_without_a_partial_file(tmp_path: Path) -> None:
    _big_input(tmp_path)
    (tmp_path / "disk").mkdir()
    script = """
mount -t tmpfs -o size=256k tmpfs disk
set +e
eval "$CLI" convert big.jsonl disk/out.jsonl --to openai > out1 2> err1; echo $? > rc1
eval "$CLI" convert big.jsonl disk/out.jsonl --to openai --workers 3 > out2 2> err2; echo $? > rc2
set -e
(cd disk && find . -type f | sort) > ls1
"""
    _in_namespace(script, tmp_path)
    for n in ("1", "2"):
        assert (tmp_path / f"rc{n}").read_text().strip() == "1"
        line = _one_error_line((tmp_path / f"err{n}").read_text(encoding="utf-8"))
        assert "disk/out.jsonl" in line and "no space left on the device [errno 28]" in line
    assert _files(tmp_path / "ls1") == []


@needs_mounts
def test_a_read_only_run_folder_is_one_line(tmp_path: Path) -> None:
    _big_input(tmp_path, 10)
    (tmp_path / "ro").mkdir()
    script = """
mount --bind ro ro
mount -o remount,ro,bind ro
set +e
eval "$CLI" run recipe.yaml -o ro/run > out1 2> err1; echo $? > rc1
eval "$CLI" convert big.jsonl ro/out.jsonl --to openai > out2 2> err2; echo $? > rc2
"""
    _in_namespace(script, tmp_path)
    for n in ("1", "2"):
        assert (tmp_path / f"rc{n}").read_text().strip() == "1"
        line = _one_error_line((tmp_path / f"err{n}").read_text(encoding="utf-8"))
        assert "ro/" in line and ("read-only" in line or "cannot write here" in line), line


def test_a_run_folder_under_a_file_is_one_line(tmp_path: Path) -> None:
    _big_input(tmp_path, 10)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    res = subprocess.run(
        [*CLI, "run", "recipe.yaml", "-o", "afile/run"], cwd=tmp_path, capture_output=True,
        text=True, env=dict(os.environ, PYTHONPATH=str(SRC)), timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 1
    line = _one_error_line(res.stderr)
    assert "afile/run" in line and "a part of the path is a file, not a folder" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "loop.jsonl", "out.jsonl", "--to", "openai"],
        ["validate", "loop.jsonl"],
        ["inspect", "loop.jsonl"],
        ["run", "loop.yaml", "-o", "run"],
    ],
)
def test_a_self_symlink_input_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop.jsonl").symlink_to("loop.jsonl")
    (tmp_path / "loop.yaml").write_text(
        "inputs: [loop.jsonl]\noutputs: {train: {format: sftforge}}\n", encoding="utf-8"
    )
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "loop.jsonl" in line and "symlink loop" in line, line
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "rejects"])
def test_convert_never_writes_over_its_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    data = b'{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
    (tmp_path / "x.jsonl").write_bytes(data)
    out, extra = "x.jsonl", []
    if how == "symlink":
        (tmp_path / "y.jsonl").symlink_to("x.jsonl")
        out = "y.jsonl"
    elif how == "hardlink":
        os.link(tmp_path / "x.jsonl", tmp_path / "y.jsonl")
        out = "y.jsonl"
    elif how == "rejects":
        out, extra = "out.jsonl", ["--on-error", "skip", "--rejects", "./x.jsonl"]
    assert main(["convert", "x.jsonl", out, "--to", "sharegpt", *extra]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "writing it would destroy the input" in line
    assert (tmp_path / "x.jsonl").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_convert_cleans_the_temp_file_of_a_killed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.jsonl").write_bytes(b'{"instruction": "a", "output": "b"}\n')
    code = (
        f"import os, signal, sys; sys.path.insert(0, {str(SRC)!r});"
        "from sftforge.io.atomic import AtomicFile;"
        "f = AtomicFile('out.jsonl'); f.fh.write(b'half'); f.fh.flush();"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert main(["convert", "x.jsonl", "out.jsonl", "--to", "sharegpt"]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (drops root to another user to be refused)",
)
def test_a_run_folder_you_may_not_write_is_one_line(tmp_path: Path) -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="sftforge-perm-"))  # outside pytest's 0700 folder
    try:
        folder.chmod(0o755)
        _big_input(folder, 10)
        for p in folder.iterdir():
            p.chmod(0o644)
        for argv in (
            ["run", "recipe.yaml", "-o", "run"],
            ["convert", "big.jsonl", "o.jsonl", "--to", "openai"],
        ):
            res = subprocess.run(
                [*NOBODY, *CLI, *argv], cwd=folder, capture_output=True, text=True, timeout=120,
                env=dict(os.environ, PYTHONPATH=str(SRC)), check=False,
            )  # fmt: skip
            assert res.returncode == 1, res.stderr
            line = _one_error_line(res.stderr)
            assert "permission denied" in line.lower(), line
            assert sorted(p.name for p in folder.iterdir()) == ["big.jsonl", "recipe.yaml"]
    finally:
        shutil.rmtree(folder)
