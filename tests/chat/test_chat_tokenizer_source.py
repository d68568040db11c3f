"""``--tokenizer Qwen/Qwen2.5-1.5B-Instruct``: found in a Hugging Face or ModelScope cache laid out
in tmp (a tiny tokenizer built here, never downloaded), or one error line saying what to put where.

``HF_HUB_OFFLINE=1`` in every test: nothing here may reach the network.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from chat_fixtures import CONVERSATIONS

from sftforge.chat import load_tokenizer
from sftforge.chat.tokenizer_source import resolve_tokenizer
from sftforge.cli.main import main
from sftforge.errors import InputError

MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


@pytest.fixture
def samples_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in CONVERSATIONS.values()))
    return path


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "MODELSCOPE_CACHE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.chdir(tmp_path)  # "Qwen/..." must not exist as a relative folder by accident


def _hf_snapshot(hub: Path, bpe_dir: Path, rev: str, *, ref: bool = True) -> Path:
    repo = hub / "models--Qwen--Qwen2.5-1.5B-Instruct"
    snap = repo / "snapshots" / rev
    shutil.copytree(bpe_dir, snap)
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(rev, encoding="utf-8")
    return snap


def test_hf_home_cache_is_used(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    snap = _hf_snapshot(tmp_path / "hf" / "hub", bpe_dir, "abc123")
    assert resolve_tokenizer(MODEL) == snap
    tok = load_tokenizer(MODEL)
    assert tok.encode("Hello world", add_special_tokens=False) == load_tokenizer(bpe_dir).encode(
        "Hello world", add_special_tokens=False
    )


def test_hf_hub_cache_wins_over_hf_home_and_refs_main_picks_the_snapshot(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hubcache"))
    _hf_snapshot(tmp_path / "hf" / "hub", bpe_dir, "ignored")
    old = _hf_snapshot(tmp_path / "hubcache", bpe_dir, "pinned")
    newer = _hf_snapshot(tmp_path / "hubcache", bpe_dir, "newer", ref=False)
    os.utime(old, (1, 1))
    assert resolve_tokenizer(MODEL) == old  # refs/main names it, though another is newer
    (tmp_path / "hubcache" / "models--Qwen--Qwen2.5-1.5B-Instruct" / "refs" / "main").unlink()
    assert resolve_tokenizer(MODEL) == newer  # no ref: the newest snapshot with tokenizer files


def test_default_hf_cache_under_home(bpe_dir: Path, tmp_path: Path) -> None:
    snap = _hf_snapshot(tmp_path / "home" / ".cache" / "huggingface" / "hub", bpe_dir, "r1")
    assert resolve_tokenizer(MODEL) == snap


@pytest.mark.parametrize(
    "layout", ["models/Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2___5-1___5B-Instruct"]
)
def test_modelscope_cache(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    shutil.copytree(bpe_dir, tmp_path / "ms" / layout)
    assert resolve_tokenizer(MODEL) == tmp_path / "ms" / layout
    assert load_tokenizer(MODEL).encode("你好", add_special_tokens=False)


def test_snapshot_without_tokenizer_files_is_not_taken(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snap = tmp_path / "hub" / "models--Qwen--Qwen2.5-1.5B-Instruct" / "snapshots" / "r"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}", encoding="utf-8")  # a model, but no tokenizer
    with pytest.raises(InputError, match="not in the Hugging Face cache"):
        resolve_tokenizer(MODEL)


def test_a_local_folder_wins_over_an_id(bpe_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(bpe_dir, tmp_path / "Qwen" / "Qwen2.5-1.5B-Instruct")
    assert resolve_tokenizer(MODEL) == Path(MODEL)


def test_missing_everywhere_says_which_files_go_where(
    samples_file: Path,
    bpe_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    rc = main(["tokenize", str(samples_file), str(tmp_path / "o.parquet"), "--tokenizer", MODEL])
    assert rc == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    place = tmp_path / "hub" / "models--Qwen--Qwen2.5-1.5B-Instruct" / "snapshots" / "local"
    assert err.startswith(f"error: field 'tokenizer': tokenizer '{MODEL}' is not a local folder")
    assert "offline (HF_HUB_OFFLINE)" in err
    assert "put tokenizer.json and tokenizer_config.json" in err
    assert f"in {place}/" in err
    # following the hint works: with the files in that folder the same command runs
    shutil.copytree(bpe_dir, place)
    args = ["tokenize", str(samples_file), str(tmp_path / "o.parquet"), "--tokenizer", MODEL]
    assert main([*args, "--template", "chatml"]) == 0
    assert (tmp_path / "o.parquet").stat().st_size > 0


def test_length_filter_counts_tokens_with_a_model_id(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftforge.ops.base import build_op
    from sftforge.ops.filters.length import load_tokenizer as load_json_tokenizer
    from sftforge.sample import Message, Sample

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    _hf_snapshot(tmp_path / "hub", bpe_dir, "r1")
    load_json_tokenizer.cache_clear()
    try:
        op = build_op("length_filter", {"unit": "tokens", "tokenizer": MODEL, "max": 3})
        short = Sample([Message("user", "q"), Message("assistant", "Hello")])
        long = Sample([Message("user", "q"), Message("assistant", "Hello world, how are you?")])
        kept, dropped = op.apply([short, long])
    finally:
        load_json_tokenizer.cache_clear()
    assert [s.id for s in kept] == [short.id]
    assert [r.sample.id for r in dropped] == [long.id]
