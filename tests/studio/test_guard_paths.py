"""paths.confine: a server path is read only inside the data root; '..', absolute paths and
symlinks out of it are refused (403 path_outside_root), links that stay inside are fine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sftforge.studio.errors import ApiError
from sftforge.studio.paths import confine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jsonl").write_text("{}\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret\n")
    os.symlink(outside, root / "leak.txt")
    os.symlink(tmp_path, root / "up")
    os.symlink(root / "sub" / "a.jsonl", root / "inside.jsonl")
    return root


def _refused(root: Path, name: str, code: str = "path_outside_root", status: int = 403) -> str:
    with pytest.raises(ApiError) as err:
        confine(root, name)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    return err.value.message


def test_inside_is_resolved(root: Path) -> None:
    assert confine(root, "sub/a.jsonl") == (root / "sub" / "a.jsonl").resolve()
    assert confine(root, str(root / "sub" / "a.jsonl")) == (root / "sub" / "a.jsonl").resolve()
    assert confine(root, "inside.jsonl") == (root / "sub" / "a.jsonl").resolve()


def test_dotdot_and_absolute_escapes(root: Path) -> None:
    _refused(root, "../secret.txt")
    _refused(root, "sub/../../secret.txt")
    _refused(root, str(root.parent / "secret.txt"))
    _refused(root, "/etc/passwd")


def test_symlink_escapes(root: Path) -> None:
    assert "symlink" in _refused(root, "leak.txt")
    _refused(root, "up/secret.txt")  # a linked folder out of the root


def test_missing_empty_and_no_root(root: Path) -> None:
    _refused(root, "sub/none.jsonl", "not_found", 404)
    _refused(root, "", "bad_path", 400)
    _refused(root, "a\x00b", "bad_path", 400)
    with pytest.raises(ApiError) as err:
        confine(None, "a.jsonl")
    assert err.value.code == "server_paths_disabled"
