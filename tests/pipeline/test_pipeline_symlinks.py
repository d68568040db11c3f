"""A recipe input never follows a symlink out of its folder (``--follow-symlinks`` allows it): a
``data.jsonl -> /etc/passwd`` must not end up in the rejects and the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_helpers import run_cli

from sftforge.errors import InputError, RecipeError
from sftforge.pipeline import run_recipe

SECRET = "root:x:0:0:secret-line-7f3a:/root:/bin/bash"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("elsewhere") / "passwd"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


def _all_text(folder: Path) -> str:
    return "".join(p.read_text("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_an_input_symlinked_out_of_its_folder_is_refused(
    write_recipe: Callable[..., Path], tmp_path: Path, outside: Path
) -> None:
    (tmp_path / "data.jsonl").symlink_to(outside)
    recipe = write_recipe(inputs=[{"path": "data.jsonl", "name": "data"}])
    with pytest.raises(RecipeError) as info:
        run_recipe(recipe, tmp_path / "run", 1)
    err = info.value
    assert err.field == "inputs[1].path" and err.file == str(recipe)
    assert "is a symlink to" in str(err) and "--follow-symlinks" in str(err)
    assert not (tmp_path / "run").exists() or SECRET not in _all_text(tmp_path / "run")

    res = run_cli(["run", str(recipe), "-o", "run"], tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "field 'inputs[1].path'" in res.stderr
    assert SECRET not in res.stderr + res.stdout

    # a chain of links that ends outside is refused too
    (tmp_path / "hop.jsonl").symlink_to("data.jsonl")
    with pytest.raises(RecipeError, match="is a symlink to"):
        run_recipe(write_recipe(inputs=[{"path": "hop.jsonl", "name": "hop"}]), tmp_path / "r", 1)


def test_follow_symlinks_reads_it(
    write_recipe: Callable[..., Path], tmp_path: Path, outside: Path
) -> None:
    (tmp_path / "data.jsonl").symlink_to(outside)
    inputs = [{"path": "data.jsonl", "name": "data", "format": "sftforge"}]
    # read, as asked: the passwd line is not a sample, so it is rejected, and an input that keeps
    # nothing fails the run
    with pytest.raises(InputError, match="none of the 1 records of input 'data'"):
        run_recipe(write_recipe(inputs=inputs, steps=[]), tmp_path / "run", 1, follow_symlinks=True)
    rejects = (tmp_path / "run" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 1


def test_links_inside_the_folder_and_symlinked_folders_are_read(
    write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path
) -> None:
    (tmp_path / "same.jsonl").symlink_to(raw_file.name)  # a link to a file beside it
    data = tmp_path / "mnt" / "data"
    data.mkdir(parents=True)
    raw_file.rename(data / "raw.jsonl")
    (tmp_path / "raw.jsonl").symlink_to(data / "raw.jsonl")
    (tmp_path / "data").symlink_to(data)  # a symlinked folder, named on purpose
    recipe = write_recipe(inputs=[{"path": "data/raw.jsonl", "name": "raw"}], steps=[])
    assert run_recipe(recipe, tmp_path / "run", 1).counts["read"] == 61
