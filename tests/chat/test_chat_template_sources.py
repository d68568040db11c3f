"""Where a shipped template comes from: tokenizer_config.json (string or named list), a
chat_template.jinja beside it, a .jinja path, a tokenizer folder, or a GGUF file's metadata."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from chat_fixtures import hf_messages
from family_templates import FAMILIES, FAMILY_CONVERSATIONS, unmarked

from sftforge.chat import ChatTokenizer
from sftforge.chat.templates import resolve_template
from sftforge.chat.templates.gguf import gguf_chat_templates
from sftforge.cli.main import main
from sftforge.errors import TemplateError

CHATML = unmarked(FAMILIES["chatml"].source)
HERMES = unmarked(FAMILIES["hermes"].source)


def _gguf_string(s: str) -> bytes:
    data = s.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, templates: dict[str, str]) -> Path:
    """A GGUF v3 header with metadata only: scalars, a token array, then the templates."""
    kvs = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama"),
        _gguf_string("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", 4096),
        _gguf_string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_gguf_string(t) for t in ("<s>", "</s>", "你好")),
        _gguf_string("tokenizer.ggml.scores")
        + struct.pack("<IIQ", 9, 6, 3)
        + struct.pack("<3f", 0.0, 0.0, -1.5),
    ]
    for name, source in templates.items():
        key = "tokenizer.chat_template" + ("" if name == "default" else f".{name}")
        kvs.append(_gguf_string(key) + struct.pack("<I", 8) + _gguf_string(source))
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


@pytest.fixture()
def folder(tmp_path: Path, bpe_dir: Path) -> Path:
    """A copy of the test BPE tokenizer folder, without any chat template."""
    out = tmp_path / "tok"
    out.mkdir()
    for f in bpe_dir.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


def _set_config(folder: Path, value: Any) -> None:
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = value
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False))


def test_string_in_tokenizer_config_is_the_default(folder: Path) -> None:
    _set_config(folder, CHATML)
    chat = ChatTokenizer(folder)
    assert chat.template.source == CHATML  # type: ignore[union-attr]
    assert ChatTokenizer(folder, "tokenizer").template.source == CHATML  # type: ignore[union-attr]


def test_named_list_in_tokenizer_config(folder: Path) -> None:
    _set_config(
        folder, [{"name": "default", "template": CHATML}, {"name": "tool_use", "template": HERMES}]
    )
    assert ChatTokenizer(folder).template.source == CHATML  # type: ignore[union-attr]
    tool_use = ChatTokenizer(folder, "tokenizer:tool_use")
    assert tool_use.template.source == HERMES  # type: ignore[union-attr]
    row = tool_use.tokenize(FAMILY_CONVERSATIONS["tools"])
    assert row.n_trained > 0
    with pytest.raises(TemplateError, match=r"no chat template named 'rag'.*default, tool_use"):
        ChatTokenizer(folder, "tokenizer:rag")
    # the config file itself, and the folder, also name it
    cfg = folder / "tokenizer_config.json"
    assert resolve_template(f"{cfg}:tool_use").source == HERMES
    assert resolve_template(str(cfg)).source == CHATML


def test_chat_template_jinja_beside_the_config(folder: Path) -> None:
    (folder / "chat_template.jinja").write_text(HERMES, encoding="utf-8")
    assert ChatTokenizer(folder).template.source == HERMES  # type: ignore[union-attr]
    assert resolve_template(str(folder)).source == HERMES


def test_jinja_path(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.jinja"
    path.write_text(CHATML, encoding="utf-8")
    chat = ChatTokenizer(folder, str(path))
    assert chat.template.source == CHATML  # type: ignore[union-attr]
    with pytest.raises(TemplateError, match="does not exist"):
        ChatTokenizer(folder, str(tmp_path / "missing.jinja"))


def test_gguf_metadata(folder: Path, tmp_path: Path, bpe_tok: Any) -> None:
    gguf = write_gguf(tmp_path / "m.gguf", {"default": CHATML, "tool_use": HERMES})
    assert gguf_chat_templates(gguf) == {"default": CHATML, "tool_use": HERMES}
    chat = ChatTokenizer(folder, str(gguf))
    sample = FAMILY_CONVERSATIONS["zh_multi"]
    row = chat.tokenize(sample)
    ids = bpe_tok.apply_chat_template(
        hf_messages(sample), chat_template=CHATML, tokenize=True, return_dict=True
    )["input_ids"]
    assert row.input_ids == list(ids)
    assert resolve_template(f"{gguf}:tool_use").source == HERMES


def test_gguf_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 20)
    with pytest.raises(TemplateError, match="not a GGUF file"):
        resolve_template(str(bad))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(write_gguf(tmp_path / "x.gguf", {"default": CHATML}).read_bytes()[:60])
    with pytest.raises(TemplateError, match="ends inside its metadata"):
        resolve_template(str(cut))
    empty = write_gguf(tmp_path / "empty.gguf", {})
    with pytest.raises(TemplateError, match="has no chat_template"):
        resolve_template(str(empty))


def test_cli_uses_the_folder_template_by_default(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_config(folder, unmarked(FAMILIES["qwen3"].source))
    data = tmp_path / "in.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(FAMILY_CONVERSATIONS[c].to_dict(), ensure_ascii=False)
            for c in ("single", "zh_multi")
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.parquet"
    base = ["tokenize", str(data), str(out), "--tokenizer", str(folder)]
    assert main(base) == 0
    assert "rejected:not_prefix_stable: 1" in capsys.readouterr().out
    assert pq.read_table(out).num_rows == 1
    assert main([*base, "--unstable", "split"]) == 0
    assert pq.read_table(out).num_rows == 3  # single + the two turns of zh_multi


def test_cli_template_args(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--template-arg KEY=VALUE reaches the template (JSON values parsed): equal to --no-thinking."""
    _set_config(folder, unmarked(FAMILIES["qwen3"].source))
    data = tmp_path / "in.jsonl"
    data.write_bytes(FAMILY_CONVERSATIONS["single"].to_json() + b"\n")
    outs = []
    for flags in (["--template-arg", "enable_thinking=false"], ["--no-thinking"], []):
        out = tmp_path / f"out{len(outs)}.parquet"
        assert main(["tokenize", str(data), str(out), "--tokenizer", str(folder), *flags]) == 0
        outs.append(pq.read_table(out).to_pylist())
    assert outs[0] == outs[1] != outs[2]
    assert main(["tokenize", str(data), str(tmp_path / "x.parquet"), "--tokenizer", str(folder),
                 "--template-arg", "no-equals"]) != 0  # fmt: skip
    assert "is not KEY=VALUE" in capsys.readouterr().err
