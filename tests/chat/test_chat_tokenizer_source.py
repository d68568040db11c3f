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


class _Hub:
    """A loopback stand-in for the Hugging Face hub: the three routes ``snapshot_download`` uses
    (revision info, file tree, ``resolve``), serving one model's files."""

    SHA = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self, repo: str, files: dict[str, bytes]) -> None:
        import hashlib
        import http.server
        import json
        import threading

        self.requests: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, body: bytes, head: bool = False, **headers: str) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _route(self, head: bool) -> None:
                hub.requests.append(self.path)
                if self.path.startswith(f"/api/models/{repo}/tree/"):
                    tree = [
                        {
                            "type": "file",
                            "path": f,
                            "size": len(b),
                            "oid": hashlib.sha1(b).hexdigest(),
                        }
                        for f, b in files.items()
                    ]
                    return self._send(json.dumps(tree).encode(), head)
                if self.path.startswith(f"/api/models/{repo}/revision/"):
                    info = {
                        "id": repo,
                        "sha": hub.SHA,
                        "siblings": [{"rfilename": f} for f in files],
                    }
                    return self._send(json.dumps(info).encode(), head)
                prefix = f"/{repo}/resolve/"
                name = (
                    self.path[len(prefix) :].split("/", 1)[-1]
                    if self.path.startswith(prefix)
                    else ""
                )
                if name in files:
                    body = files[name]
                    etag = f'"{hashlib.sha1(body).hexdigest()}"'
                    return self._send(body, head, ETag=etag, X_Repo_Commit=hub.SHA)
                self.send_response(404)
                self.end_headers()

            def do_GET(self) -> None:
                self._route(False)

            def do_HEAD(self) -> None:
                self._route(True)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_downloads_only_the_tokenizer_files_when_online(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {p.name: p.read_bytes() for p in bpe_dir.iterdir() if p.is_file()}
    files["model.safetensors"] = b"weights: never fetched"
    hub = _Hub(MODEL, files)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    import huggingface_hub.constants as hf_constants

    # huggingface_hub reads HF_HUB_OFFLINE once, at import: undo a value the environment had then
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    try:
        folder = resolve_tokenizer(MODEL)
    finally:
        hub.close()
    assert (
        folder == tmp_path / "hub" / "models--Qwen--Qwen2.5-1.5B-Instruct" / "snapshots" / _Hub.SHA
    )
    assert "tokenizer.json" in {p.name for p in folder.iterdir()}
    assert not (folder / "model.safetensors").exists()
    assert not any("model.safetensors" in r for r in hub.requests)
    # the hub is gone now: the cache answers, and the tokenizer loads
    assert resolve_tokenizer(MODEL) == folder
    assert load_tokenizer(MODEL).encode("Hello", add_special_tokens=False)


def test_unreachable_hub_gives_the_placement_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _Hub("nobody/else", {})
    url = hub.url
    hub.close()  # nothing listens there any more
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(InputError) as err:
        resolve_tokenizer(MODEL)
    assert "and no download possible" in str(err.value)
    assert "models--Qwen--Qwen2.5-1.5B-Instruct/snapshots/local/" in str(err.value)
