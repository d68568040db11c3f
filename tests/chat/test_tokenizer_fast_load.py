"""A generic Rust-backed tokenizer loads without AutoTokenizer (and so without torch), and is the
same tokenizer AutoTokenizer gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from sftforge.chat.encode import _generic_fast, load_tokenizer

TEXT = "你好 <|im_start|>user\nhello world<|im_end|>\n"


def test_same_tokenizer_as_autotokenizer(bpe_dir: Path) -> None:
    from transformers import AutoTokenizer

    assert _generic_fast(bpe_dir)
    ours, auto = load_tokenizer(bpe_dir), AutoTokenizer.from_pretrained(str(bpe_dir))
    assert type(ours) is type(auto)
    assert ours(TEXT)["input_ids"] == auto(TEXT)["input_ids"]
    assert ours.special_tokens_map == auto.special_tokens_map
    assert ours.chat_template == auto.chat_template
    assert {k: str(v) for k, v in ours.added_tokens_decoder.items()} == {
        k: str(v) for k, v in auto.added_tokens_decoder.items()
    }


def test_loading_does_not_import_torch(bpe_dir: Path) -> None:
    code = (
        "import sys; from sftforge.chat.encode import load_tokenizer; "
        f"load_tokenizer({str(bpe_dir)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _copy(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg.update(changes)
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return dst


def test_remote_code_and_model_classes_go_through_autotokenizer(
    bpe_dir: Path, tmp_path: Path
) -> None:
    assert not _generic_fast(
        _copy(bpe_dir, tmp_path / "a", auto_map={"AutoTokenizer": ["x", None]})
    )
    assert not _generic_fast(_copy(bpe_dir, tmp_path / "b", tokenizer_class="Qwen2Tokenizer"))
    mistral = _copy(bpe_dir, tmp_path / "c")
    (mistral / "config.json").write_text('{"model_type": "mistral"}', encoding="utf-8")
    assert not _generic_fast(mistral)
    llama = _copy(bpe_dir, tmp_path / "d")
    (llama / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    assert _generic_fast(llama)
