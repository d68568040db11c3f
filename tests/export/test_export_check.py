"""``export --check`` plumbing that needs no trainer: row alignment, finding the trainer's Python,
running a peer script and reading what it says. The real trainers run in the slow tests."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from sftforge.errors import SftforgeError
from sftforge.export import check
from sftforge.export.check import compare_rows, find_trainer_python, run_peer

R = tuple[list[int], list[int]]


def row(*ids: int, masked: int = 1) -> R:
    return list(ids), [-100] * masked + list(ids[masked:])


def test_identical_rows() -> None:
    rows = [row(1, 2, 3), row(4, 5), row(6, 7, 8)]
    c = compare_rows(rows, list(rows))
    assert (c.identical, c.differ, c.only_profile, c.only_trainer, c.ok) == (3, 0, 0, 0, True)


def test_a_row_dropped_by_the_trainer_is_counted_not_paired() -> None:
    rows = [row(1, 2, 3), row(4, 5), row(6, 7, 8)]
    c = compare_rows(rows, [rows[0], rows[2]])
    assert (c.identical, c.differ, c.only_profile, c.only_trainer) == (2, 0, 1, 0)
    assert not c.ok


def test_labels_that_differ_are_reported_with_the_position() -> None:
    a = [row(1, 2, 3), row(4, 5, 6)]
    b = [row(1, 2, 3), row(4, 5, 6, masked=2)]
    c = compare_rows(a, b)
    assert (c.identical, c.differ) == (1, 1)
    assert c.first_difference is not None and "labels differ at position 1" in c.first_difference


def test_ids_that_differ_pair_up_in_place() -> None:
    c = compare_rows([row(1, 2), row(3, 4)], [row(1, 2), row(3, 9)])
    assert (c.identical, c.differ, c.only_profile, c.only_trainer) == (1, 1, 0, 0)
    assert c.first_difference is not None and "input_ids differ at position 1" in c.first_difference


def _fake_command(folder: Path, name: str, python: str) -> None:
    path = folder / name
    path.write_text(f"#!{python}\nprint('hi')\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_trainer_python_comes_from_its_command_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check.importlib.util, "find_spec", lambda name: None)
    _fake_command(tmp_path, "llamafactory-cli", sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    assert find_trainer_python("llamafactory") == Path(sys.executable)


def test_no_trainer_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SftforgeError) as err:
        find_trainer_python("axolotl")
    assert "pip install axolotl" in str(err.value.hint)
    assert "--trainer-python" in str(err.value.hint)


def test_a_venv_folder_is_taken_as_its_python(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("", encoding="utf-8")
    assert find_trainer_python("trl", str(tmp_path)) == tmp_path / "bin" / "python"
    with pytest.raises(SftforgeError, match="no Python at"):
        find_trainer_python("trl", str(tmp_path / "nowhere"))


def _peer(folder: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    (folder / "trl.py").write_text(body, encoding="utf-8")
    monkeypatch.setattr(check, "PEERS", folder)


def test_run_peer_reads_rows_and_the_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "import json, os, sys\n"
        "folder, out = sys.argv[1], sys.argv[2]\n"
        "assert os.getcwd() == folder\n"  # runs from inside the export folder
        "open(out, 'w').write(json.dumps({'input_ids': [1, 2], 'labels': [-100, 2]}) + '\\n')\n"
        "print('some log line')\n"
        "print(json.dumps({'trainer': 'trl 9.9', 'rows': 1, 'step': "
        "{'ok': True, 'loss': 1.5} if '--step' in sys.argv else None, 'notes': ['n']}))\n"
    )
    _peer(tmp_path / "peers", body, monkeypatch)
    export = tmp_path / "export"
    export.mkdir()
    run = run_peer("trl", export, Path(sys.executable), step=True)
    assert run.rows == [([1, 2], [-100, 2])]
    assert run.trainer == "trl 9.9"
    assert run.step == {"ok": True, "loss": 1.5}
    assert run.notes == ["n"]


def test_a_failing_peer_is_one_line_with_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _peer(tmp_path / "peers", "raise SystemExit('Cannot open dataset_info.json')\n", monkeypatch)
    export = tmp_path / "export"
    export.mkdir()
    with pytest.raises(SftforgeError) as err:
        run_peer("trl", export, Path(sys.executable))
    assert "Cannot open dataset_info.json" in err.value.message
    assert "could not load the export" in err.value.message
    assert str(export) in str(err.value.hint)
