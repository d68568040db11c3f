"""``export --for llamafactory`` and ``tokenize --profile llamafactory`` take one template decision
and one set of options: what the YAML says is what the profile encodes, with and without
--template, and the export warns when a named template is not the tokenizer's own format."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.chat.profiles.llamafactory_choice import LF_OPTIONS
from sftforge.cli.main import main
from sftforge.export import export_samples
from sftforge.export.common import ProfileSettings
from sftforge.sample import Message, Sample, ToolCall

SAMPLES = [
    Sample([Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]),
    Sample(
        [
            Message("user", "Hello world"),
            Message("assistant", "I am fine."),
            Message("user", "2+2?"),
            Message("assistant", "The answer is 4."),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", '{"t": 3}'),
            Message("assistant", "3 度"),
        ],
        tools=[
            {
                "name": "weather",
                "description": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    ),
    # longer than 2048 tokens: export's --max-len default and the profile's must agree
    Sample([Message("user", "今天天气很好。" * 10), Message("assistant", "很好" * 2500)]),
]


def _write(path: Path, samples: list[Sample]) -> Path:
    path.write_text("".join(s.to_json().decode() + "\n" for s in samples), encoding="utf-8")
    return path


def _yaml_settings(folder: Path) -> ProfileSettings:
    """What the written YAML tells LLaMA-Factory, in profile terms."""
    cfg = yaml.safe_load((folder / "train_lora_sft.yaml").read_text(encoding="utf-8"))
    return ProfileSettings(
        template=cfg.get("template"),
        options={k: cfg[k] for k in LF_OPTIONS if k in cfg},
        max_length=cfg["cutoff_len"],
    )


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--template", "qwen"],
        ["--option", "mask_history=true", "--max-len", "24"],
        ["--template", "default", "--option", "train_on_prompt=true"],
        ["--option", "tool_format=qwen", "--option", "default_system=你是一个助手"],
    ],
)
def test_tokenize_profile_and_export_agree(
    tmp_path: Path, tok: Any, tok_dir: Path, flags: list[str]
) -> None:
    data = _write(tmp_path / "d.jsonl", SAMPLES)
    out = tmp_path / "lf"
    parquet = tmp_path / "rows.parquet"
    assert main(["export", str(data), str(out), "--for", "llamafactory",
                 "--model", str(tok_dir), *flags]) == 0  # fmt: skip
    assert main(["tokenize", str(data), str(parquet), "--tokenizer", str(tok_dir),
                 "--profile", "llamafactory", *flags]) == 0  # fmt: skip
    settings = _yaml_settings(out)
    # the profile set up as the YAML says gives exactly tokenize --profile's rows
    prof = get_profile(
        "llamafactory",
        tok,
        template=settings.template,
        max_length=settings.max_length,
        **settings.options,
    )
    expected = [(e.input_ids, e.labels) for e in prof.encode_batch(SAMPLES)]
    assert all(isinstance(e, Encoded) for e in prof.encode_batch(SAMPLES))
    rows = pq.read_table(parquet).to_pylist()
    assert [(r["input_ids"], r["labels"]) for r in rows] == expected
    assert max(len(ids) for ids, _ in expected) == settings.max_length  # the cutoff applied
    # and what the export says its YAML stands for (export --check, the bench) is the same
    res = export_samples(
        SAMPLES,
        "llamafactory",
        tmp_path / "again",
        model=str(tok_dir),
        template=settings.template,
        max_length=int(settings.max_length or 0),
        options=settings.options,
    )
    assert res.profile == settings


def test_without_template_the_yaml_leaves_it_to_the_tokenizer(
    tmp_path: Path, tok_dir: Path
) -> None:
    res = export_samples(SAMPLES[:2], "llamafactory", tmp_path, model=str(tok_dir))
    text = (tmp_path / "train_lora_sft.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    assert "template" not in cfg  # not `default` (Human:/Assistant:), which the model never saw
    assert "# template: not set, so LLaMA-Factory parses the tokenizer's own chat template" in text
    assert res.profile is not None and res.profile.template is None
    assert res.notes == []  # a plain ChatML template, no tools: nothing to warn about


def test_a_named_template_that_renders_otherwise_is_warned(tmp_path: Path, tok_dir: Path) -> None:
    res = export_samples(SAMPLES[:2], "llamafactory", tmp_path / "a", model=str(tok_dir),
                         template="default")  # fmt: skip
    (note,) = res.notes
    assert "--template default renders differently from the tokenizer's own" in note
    assert "System: S" in note and "Human: Q" in note and "<|im_start|>system\\nS" in note
    assert yaml.safe_load((tmp_path / "a" / "train_lora_sft.yaml").read_text())["template"] == (
        "default"
    )
    # qwen3_nothink renders the test tokenizer's ChatML token for token: no warning
    same = export_samples(SAMPLES[:2], "llamafactory", tmp_path / "b", model=str(tok_dir),
                          template="qwen3_nothink")  # fmt: skip
    assert same.notes == []


def test_a_template_the_profile_does_not_know_is_written_and_said(
    tmp_path: Path, tok_dir: Path
) -> None:
    res = export_samples(SAMPLES[:1], "llamafactory", tmp_path, model=str(tok_dir),
                         template="deepseek3")  # fmt: skip
    assert yaml.safe_load((tmp_path / "train_lora_sft.yaml").read_text())["template"] == (
        "deepseek3"
    )
    assert any("does not reproduce template 'deepseek3'" in n for n in res.notes)


def test_tokenizer_without_chat_template_gets_the_empty_template_and_a_warning(
    tmp_path: Path, tok: Any
) -> None:
    plain = deepcopy(tok)
    plain.chat_template = None
    plain.save_pretrained(tmp_path / "tok")
    res = export_samples(SAMPLES[:1], "llamafactory", tmp_path / "out", model=str(tmp_path / "tok"))
    text = (tmp_path / "out" / "train_lora_sft.yaml").read_text(encoding="utf-8")
    assert "template" not in yaml.safe_load(text)
    assert "the tokenizer has no chat template, so LLaMA-Factory uses its" in text
    assert any("`empty` template (no role markers)" in n for n in res.notes)


def test_reasoning_template_and_tools_are_explained(tmp_path: Path, make_tokenizer: Any) -> None:
    tok = make_tokenizer()
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' %}<think>\n\n</think>\n\n{% endif %}"
        "{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tok.save_pretrained(tmp_path / "tok")
    res = export_samples(SAMPLES[:3], "llamafactory", tmp_path / "out", model=str(tmp_path / "tok"))
    assert any("adds an empty, trained <think></think> block" in n for n in res.notes)
    assert any("--option tool_format=qwen" in n for n in res.notes)
    given = export_samples(SAMPLES[:3], "llamafactory", tmp_path / "out2",
                           model=str(tmp_path / "tok"),
                           options={"enable_thinking": False, "tool_format": "qwen"})  # fmt: skip
    assert given.notes == []


def _tiny_llama(folder: Path, tok: Any) -> Path:
    """A tiny random Llama (bf16 weights, as released models are) with the test tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "options", "max_len", "step"),
    [(None, {}, 2048, True), ("qwen", {"mask_history": True, "tool_format": "default"}, 24, False)],
)
def test_llamafactory_loads_the_moved_export_as_the_profile_encodes_it(
    tmp_path: Path,
    tok: Any,
    template: str | None,
    options: dict[str, Any],
    max_len: int,
    step: bool,
) -> None:
    """The peer script (export/peers/llamafactory.py) in LLaMA-Factory's venv: its rows equal the
    profile's, and (first case) one training step on CPU from the config as written."""
    import json
    import os
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[3]
    venv = Path(os.environ.get("SFTFORGE_LF_VENV") or root / ".bench-venvs" / "llamafactory")
    if not (venv / "bin" / "python").exists():
        pytest.skip(f"no LLaMA-Factory venv at {venv} (set SFTFORGE_LF_VENV)")
    model = _tiny_llama(tmp_path / "model", tok)
    res = export_samples(SAMPLES, "llamafactory", tmp_path / "export", model=str(model),
                         template=template, max_length=max_len, options=options)  # fmt: skip
    moved = tmp_path / "elsewhere" / "lf"
    moved.parent.mkdir()
    shutil.move(tmp_path / "export", moved)  # the folder travels: relative paths only
    out = tmp_path / "rows.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(venv / "bin" / "python"), str(root / "src/sftforge/export/peers/llamafactory.py"),
         str(moved), str(out), *(["--step"] if step else [])],
        cwd=moved, capture_output=True, text=True, env=env, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["trainer"].startswith("llamafactory ")
    theirs = [json.loads(line) for line in out.read_text().splitlines()]
    assert res.profile is not None
    prof = get_profile("llamafactory", tok, template=res.profile.template,
                       max_length=res.profile.max_length, **res.profile.options)  # fmt: skip
    ours = [e for e in prof.encode_batch(SAMPLES) if isinstance(e, Encoded)]
    assert result["rows"] == len(theirs) == len(ours) == len(SAMPLES)
    assert [(t["input_ids"], t["labels"]) for t in theirs] == [
        (o.input_ids, o.labels) for o in ours
    ]
    if step:
        assert result["step"]["ok"] is True, result["step"]
        assert 0 < result["step"]["loss"] < 100
        assert any("bf16=False, fp16=False" in n for n in result["notes"])
    else:
        assert result["step"] is None
