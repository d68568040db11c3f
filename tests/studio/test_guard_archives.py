"""Archive extraction: zip-slip, absolute names, symlink and hard-link members, devices, bombs
and too many members are refused whole; a good zip or tar.gz is extracted as it is."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from sftforge.studio.errors import ApiError
from sftforge.studio.uploads import extract_archive, safe_relpath


def _zip(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _tar(path: Path, members: dict[str, bytes], kind: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if kind:
            info = tarfile.TarInfo("evil")
            info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[
                kind
            ]
            info.linkname = "/etc/passwd"
            tf.addfile(info)
    return path


def _refused(archive: Path, dest: Path, code: str, **limits: int) -> str:
    dest.mkdir(exist_ok=True)
    with pytest.raises(ApiError) as err:
        extract_archive(
            archive,
            dest,
            max_bytes=limits.get("max_bytes", 1 << 20),
            max_files=limits.get("max_files", 100),
        )
    assert err.value.code == code, err.value.message
    return err.value.message


def test_good_archives(tmp_path: Path) -> None:
    members = {"data/train.jsonl": b'{"a": 1}\n', "中文/说明.jsonl": b"{}\n"}
    for archive in (_zip(tmp_path / "ok.zip", members), _tar(tmp_path / "ok.tar.gz", members)):
        dest = tmp_path / archive.name.replace(".", "_")
        dest.mkdir()
        got = extract_archive(archive, dest, max_bytes=1 << 20, max_files=10)
        assert got == sorted(members)
        assert (dest / "中文" / "说明.jsonl").read_bytes() == b"{}\n"


@pytest.mark.parametrize("name", ["../evil.jsonl", "a/../../evil.jsonl", "..\\evil.jsonl"])
def test_zip_slip(tmp_path: Path, name: str) -> None:
    message = _refused(_zip(tmp_path / "a.zip", {name: b"x"}), tmp_path / "out", "unsafe_archive")
    assert ".." in message
    assert not (tmp_path / "evil.jsonl").exists()


def test_absolute_members(tmp_path: Path) -> None:
    outside = (tmp_path / "outside" / "evil").as_posix()  # an absolute member name
    _refused(_zip(tmp_path / "a.zip", {outside: b"x"}), tmp_path / "o1", "unsafe_archive")
    _refused(_tar(tmp_path / "a.tgz", {outside: b"x"}), tmp_path / "o2", "unsafe_archive")
    assert not (tmp_path / "outside").exists()
    _refused(_zip(tmp_path / "c.zip", {"C:/evil": b"x"}), tmp_path / "o3", "unsafe_archive")
    _refused(_tar(tmp_path / "s.tgz", {"../../evil": b"x"}), tmp_path / "o4", "unsafe_archive")


def test_link_and_device_members(tmp_path: Path) -> None:
    assert "symlink" in _refused(
        _zip(tmp_path / "l.zip", {"a.jsonl": b"{}"}, link="passwd"),
        tmp_path / "o1",
        "unsafe_archive",
    )
    for kind in ("sym", "hard", "fifo"):
        _refused(
            _tar(tmp_path / f"{kind}.tgz", {"a": b"{}"}, kind), tmp_path / kind, "unsafe_archive"
        )


def test_zip_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (8 << 20)})
    assert bomb.stat().st_size < 64 << 10  # small on disk, 8 MiB unpacked
    dest = tmp_path / "out"
    message = _refused(bomb, dest, "too_large", max_bytes=1 << 20)
    assert "1048576" in message
    # only what fit under the limit was ever written (the caller then removes the folder)
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1 << 20


def test_too_many_members(tmp_path: Path) -> None:
    many = _zip(tmp_path / "many.zip", {f"f{i}.jsonl": b"{}" for i in range(12)})
    _refused(many, tmp_path / "out", "too_many_files", max_files=10)


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not an archive at all")
    _refused(junk, tmp_path / "out", "bad_archive")


def test_safe_relpath() -> None:
    assert safe_relpath("a\\b/./c.jsonl") == "a/b/c.jsonl"
    assert safe_relpath("数据/训练集.jsonl") == "数据/训练集.jsonl"
    assert safe_relpath("we<ird>|na\x07me.jsonl") == "we_ird__na_me.jsonl"
    for bad in ("../x", "a/../../x", "", "/", "a\x00b"):
        with pytest.raises(ApiError):
            safe_relpath(bad)
