"""Outputs are planned before the run: collisions stop it before any work, leftovers of earlier
runs (stale outputs, temp files of a killed write) are removed, nothing is written outside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import read_rows, run_cli

from sftforge.errors import RecipeError
from sftforge.pipeline import run_recipe

SRC = Path(__file__).resolve().parents[2] / "src"
ONE = {"train": {"format": "sftforge", "path": "train.jsonl"}}
TWO = {
    "train": {"format": "sftforge", "path": "train.jsonl"},
    "test": {"format": "sftforge", "path": "test.jsonl"},
}


def _refused(recipe: Path, out: Path, field: str, words: str, **kw: Any) -> str:
    with pytest.raises(RecipeError) as info:
        run_recipe(recipe, out, 1, **kw)
    err = info.value
    assert err.field == field, str(err)
    assert words in str(err), str(err)
    assert err.hint and err.file == str(recipe)
    assert "\n" not in str(err)
    # stopped before any work: no work folder, no file written
    assert not (out / ".work").exists()
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
    return str(err)


@pytest.mark.parametrize(
    ("outputs", "field", "words"),
    [
        ({"train": {"format": "sftforge", "path": "rejects.jsonl"}}, "outputs.train.path",
         "are the same path 'rejects.jsonl'"),
        ({"train": {"format": "sftforge", "path": "Report.JSON"}}, "outputs.train.path",
         "the report (report.json)"),
        ({"train": {"format": "sftforge", "path": "recipe.lock.yaml"}}, "outputs.train.path",
         "the lock file"),
        ({"train": {"format": "sftforge", "path": ".work/train.jsonl"}}, "outputs.train.path",
         "inside the work folder"),
        ({"train": {"format": "sftforge", "path": "."}}, "outputs.train.path", "is a folder"),
        ({"train": {"format": "sftforge", "path": "sub/"}}, "outputs.train.path", "is a folder"),
        ({"train": {"format": "sftforge", "path": "manifest-step1-mix.jsonl"}},
         "outputs.train.path", "manifest file"),
        ({"train": {"format": "sftforge", "path": "a.jsonl"},
          "test": {"format": "sftforge", "path": "./a.jsonl"}}, "outputs.test.path",
         "outputs.train.path and outputs.test.path are the same path 'a.jsonl'"),
        ({"train": {"format": "sftforge", "path": "a"},
          "test": {"format": "sftforge", "path": "a/b.jsonl"}}, "outputs.test.path",
         "lies inside outputs.train.path"),
    ],
)  # fmt: skip
def test_colliding_outputs_stop_before_work(
    write_recipe: Callable[..., Path],
    tmp_path: Path,
    outputs: dict[str, Any],
    field: str,
    words: str,
) -> None:
    steps = [{"t_split": {"every": 3}}] if len(outputs) > 1 else []
    recipe = write_recipe(steps=steps, outputs=outputs)
    line = _refused(recipe, tmp_path / "run", field, words)
    assert "Fix:" in line


def test_cli_prints_the_collision_in_one_line(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    recipe = write_recipe(outputs={"train": {"format": "sftforge", "path": "rejects.jsonl"}})
    res = run_cli(["run", str(recipe), "-o", "run"], tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert "field 'outputs.train.path'" in res.stderr and "Fix:" in res.stderr


def test_an_output_that_is_an_input_stops_before_work(
    write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    os.replace(raw_file, run / "train.jsonl")
    recipe = write_recipe(inputs=[{"path": "run/train.jsonl", "name": "raw"}])
    before = (run / "train.jsonl").read_bytes()
    with pytest.raises(RecipeError, match=r"input 'raw' \(run/train.jsonl\) is outputs"):
        run_recipe(recipe, run, 1)
    assert (run / "train.jsonl").read_bytes() == before
    # the same file by another name: a hard link
    os.link(run / "train.jsonl", tmp_path / "linked.jsonl")
    recipe = write_recipe(inputs=[{"path": "linked.jsonl", "name": "raw"}])
    with pytest.raises(RecipeError, match=r"inputs\[1\]\.path|outputs.train.path"):
        run_recipe(recipe, run, 1)
    assert (run / "train.jsonl").read_bytes() == before


def test_an_input_inside_the_work_folder_is_refused(
    write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path
) -> None:
    (tmp_path / "run" / ".work").mkdir(parents=True)
    os.replace(raw_file, tmp_path / "run" / ".work" / "raw.jsonl")
    recipe = write_recipe(inputs=[{"path": "run/.work/raw.jsonl", "name": "raw"}])
    with pytest.raises(RecipeError, match="is the work folder"):
        run_recipe(recipe, tmp_path / "run", 1)
    assert (tmp_path / "run" / ".work" / "raw.jsonl").exists()


def test_outputs_through_a_symlinked_folder_stay_inside(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "sub").symlink_to(elsewhere)
    recipe = write_recipe(outputs={"train": {"format": "sftforge", "path": "sub/train.jsonl"}})
    with pytest.raises(RecipeError, match="leads outside the run folder") as info:
        run_recipe(recipe, tmp_path / "run", 1)
    assert "--allow-outside" in str(info.value)
    assert not list(elsewhere.iterdir())
    res = run_recipe(recipe, tmp_path / "run", 1, allow_outside=True)
    assert (elsewhere / "train.jsonl").read_bytes() == res.outputs["train"].read_bytes()


def test_a_recipe_cache_must_be_inside_the_run_folder(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    recipe = write_recipe(cache="mycache")  # relative to the recipe's folder: outside the run
    _refused(recipe, tmp_path / "run", "cache", "outside the run folder")
    assert not (tmp_path / "mycache").exists()
    run_recipe(recipe, tmp_path / "run", 1, allow_outside=True)
    assert (tmp_path / "mycache").is_dir()
    # inside the run folder: fine, unless it is a place the run writes
    inside = write_recipe(cache="run/cache")
    run_recipe(inside, tmp_path / "run", 1)
    assert (tmp_path / "run" / "cache").is_dir()
    assert (tmp_path / "run" / "train.jsonl").exists()
    _refused(write_recipe(cache="run2/.work"), tmp_path / "run2", "cache", "same path '.work'")
    _refused(write_recipe(cache="run3"), tmp_path / "run3", "cache", "is the run folder")


def test_a_rerun_with_fewer_outputs_removes_the_old_ones(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    two = write_recipe(steps=[{"t_split": {"every": 3}}], outputs=TWO)
    run_recipe(two, run, 1)
    assert (run / "test.jsonl").exists()
    (run / "notes.txt").write_text("mine", encoding="utf-8")  # not the run's: never touched
    one = write_recipe(steps=[], outputs=ONE)
    res = run_recipe(one, run, 1)
    assert not (run / "test.jsonl").exists()
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine"
    kept = {r["id"] for r in read_rows(res.outputs["train"])}
    assert len(kept) == res.counts["kept"]
    lock = (run / "recipe.lock.yaml").read_text(encoding="utf-8")
    assert "files:\n- train.jsonl\n- rejects.jsonl\n" in lock


def test_a_lock_from_before_files_names_its_outputs(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run_recipe(write_recipe(steps=[{"t_split": {"every": 3}}], outputs=TWO), run, 1)
    lock = run / "recipe.lock.yaml"
    text = lock.read_text(encoding="utf-8")
    lock.write_text(text[: text.index("files:")], encoding="utf-8")  # as older versions wrote
    run_recipe(write_recipe(steps=[], outputs=ONE), run, 1)
    assert not (run / "test.jsonl").exists()


def test_an_earlier_output_read_as_input_is_not_removed(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run_recipe(write_recipe(steps=[{"t_split": {"every": 3}}], outputs=TWO), run, 1)
    recipe = write_recipe(
        steps=[], outputs={"again": {"format": "sftforge", "path": "again.jsonl"}},
        inputs=[{"path": "run/test.jsonl", "name": "old_test"}],
    )  # fmt: skip
    run_recipe(recipe, run, 1)
    assert (run / "test.jsonl").exists()
    assert not (run / "train.jsonl").exists()


def _killed_atomic_write(path: Path) -> None:
    """A process that dies (SIGKILL) in the middle of an atomic write of ``path``."""
    code = (
        f"import os, signal, sys; sys.path.insert(0, {str(SRC)!r});"
        "from sftforge.io.atomic import AtomicFile;"
        f"f = AtomicFile({str(path)!r}); f.fh.write(b'half'); f.fh.flush();"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    res = subprocess.run([sys.executable, "-c", code], check=False)
    assert res.returncode == -signal.SIGKILL


def test_temp_files_of_a_killed_final_write_are_cleaned(
    write_recipe: Callable[..., Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    recipe = write_recipe(outputs={"train": {"format": "sharegpt", "path": "train.jsonl"}})
    run_recipe(recipe, run, 1)
    # what a kill -9 in the final write leaves: the staged copy and the writer's temp file
    (run / ".tmp-train.jsonl").write_bytes(b"partial")
    _killed_atomic_write(run / ".tmp-train.jsonl")
    _killed_atomic_write(run / "rejects.jsonl")
    (run / ".notes.tmp").write_text("mine", encoding="utf-8")
    (run / ".train.jsonl.tmpl").write_text("mine too", encoding="utf-8")
    left = sorted(p.name for p in run.iterdir() if ".tmp" in p.name)
    assert any(n.startswith("..tmp-train.jsonl.") and n.endswith(".tmp") for n in left), left
    run_recipe(recipe, run, 1)
    assert sorted(p.name for p in run.iterdir() if ".tmp" in p.name) == [
        ".notes.tmp",
        ".train.jsonl.tmpl",
    ]
