"""Every export target: the files exist, every config parses, the data loads back."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from sftforge.chat.profiles.llamafactory import align_lf_record
from sftforge.cli.main import main
from sftforge.export import FRAMEWORKS, export_samples
from sftforge.sample import Message, Sample, ToolCall
from swift_script import swift_args

SAMPLES = [
    Sample([Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]),
    Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "2+2?"),
            Message("assistant", "4"),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ],
        tools=[
            {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    ),
]


def _shell_args(script: Path) -> list[str]:
    text = script.read_text(encoding="utf-8")
    assert text.startswith('#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")"\n')
    return _command_words(text.split("\n", 3)[3])


def _command_words(body: str) -> list[str]:
    """The command's words, after a preamble of comments, exports and NAME=... lines (the
    script's own "$@" left out)."""
    lines = body.split("\n")
    while lines and re.match(r"#|export |[A-Z_][A-Z0-9_]*=", lines[0]):
        lines.pop(0)
    words = shlex.split("\n".join(lines).replace("\\\n", " "))  # bash line continuations
    return [w for w in words if w != "$@"]


def test_llamafactory(tmp_path: Path) -> None:
    res = export_samples(SAMPLES, "llamafactory", tmp_path, model="/m/q", template="qwen")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    entry = info["sftforge"]
    assert entry["formatting"] == "sharegpt" and entry["columns"] == {
        "messages": "messages",
        "tools": "tools",
    }
    records = json.loads((tmp_path / entry["file_name"]).read_text(encoding="utf-8"))
    assert len(records) == 3 and all(not isinstance(align_lf_record(r), str) for r in records)
    cfg = yaml.safe_load((tmp_path / "train_lora_sft.yaml").read_text())
    assert (cfg["stage"], cfg["finetuning_type"], cfg["template"], cfg["dataset"]) == (
        "sft",
        "lora",
        "qwen",
        "sftforge",
    )
    assert cfg["dataset_dir"] == "." and cfg["cutoff_len"] == 2048
    assert res.command == f"cd {tmp_path} && llamafactory-cli train train_lora_sft.yaml"


def test_xtuner_config_is_python_with_data_prompts(tmp_path: Path) -> None:
    res = export_samples(SAMPLES, "xtuner", tmp_path, model="/m/q'x", template="qwen_chat")
    tree = ast.parse((tmp_path / "xtuner_qlora_config.py").read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # calls (dict(type=...)) are not literals
    assert values["pretrained_model_name_or_path"] == "/m/q'x"
    assert values["evaluation_inputs"] == ["天气？", "2+2?"]
    assert values["SYSTEM"] == "你是助手"
    assert "openai_map_fn" in (tmp_path / "xtuner_qlora_config.py").read_text()
    rows = [
        json.loads(x) for x in (tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) == 2 and rows[0]["messages"][0] == {"role": "system", "content": "你是助手"}
    assert [r[0] for r in res.rejected] == [SAMPLES[2].id]
    assert json.loads((tmp_path / "rejects.jsonl").read_text())["op"] == "export:xtuner"


def test_swift_script(tmp_path: Path) -> None:
    export_samples(SAMPLES, "swift", tmp_path, model="/m/q", template="qwen2_5")
    args = swift_args(tmp_path / "train_swift.sh", tmp_path)
    assert args[:1] == ["sft"]
    opts = dict(zip(args[1::2], args[2::2], strict=True))
    assert (
        opts["--model"] == "/m/q"
        and opts["--template"] == "qwen2_5"
        and opts["--tuner_type"] == "lora"
    )
    rows = [
        json.loads(x)
        for x in (tmp_path / opts["--dataset"]).read_text(encoding="utf-8").splitlines()
    ]
    assert [m["role"] for m in rows[2]["messages"]] == [
        "user",
        "tool_call",
        "tool_response",
        "assistant",
    ]


def test_axolotl_yaml(tmp_path: Path) -> None:
    export_samples(SAMPLES, "axolotl", tmp_path, model="/m/q")
    cfg = yaml.safe_load((tmp_path / "axolotl.yaml").read_text())
    ds = cfg["datasets"][0]
    assert (ds["type"], ds["field_messages"], ds["roles_to_train"]) == (
        "chat_template",
        "messages",
        ["assistant"],
    )
    assert len((tmp_path / ds["path"]).read_text(encoding="utf-8").splitlines()) == 3


def test_litgpt_without_a_tokenizer_uses_alpaca_which_is_single_turn(tmp_path: Path) -> None:
    res = export_samples(SAMPLES, "litgpt", tmp_path, model="/m/q")
    data = json.loads((tmp_path / "data" / "train.json").read_text(encoding="utf-8"))
    # the system prompt is LitGPT's sys_prompt (alpaca's preamble ends with a blank line)
    assert data == [
        {"instruction": "天气？", "input": "", "output": "晴", "sys_prompt": "你是助手\n\n"}
    ]
    assert [why.split(":")[0] for _, why in res.rejected] == [
        "a conversation of 2 exchanges",
        "format 'litgpt' cannot carry tool calls; converting would lose it.",
    ]
    cfg = yaml.safe_load((tmp_path / "finetune_lora.yaml").read_text(encoding="utf-8"))
    assert cfg["data"]["init_args"]["prompt_style"] == "alpaca"
    assert any("no tokenizer was given" in n for n in res.notes)


def test_trl_data_loads_with_datasets(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    from datasets import load_dataset

    export_samples(SAMPLES, "trl", tmp_path, model="/m/q")
    ast.parse((tmp_path / "train_trl.py").read_text(encoding="utf-8"))
    args = _shell_args(tmp_path / "train_trl.sh")
    assert args[:2] == ["trl", "sft"]
    ds = load_dataset("json", data_files=str(tmp_path / "data" / "train.jsonl"), split="train")
    assert (
        ds.num_rows == 3 and ds[2]["messages"][1]["tool_calls"][0]["function"]["name"] == "weather"
    )


# samples each framework cannot take (XTuner: tools; LitGPT with no tokenizer, so 'alpaca':
# multi-turn, tools)
REJECTED = {"xtuner": 1, "litgpt": 2}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_cli_export(tmp_path: Path, framework: str, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(s.to_json().decode() + "\n" for s in SAMPLES), encoding="utf-8")
    rc = main(["export", str(src), str(tmp_path / "out"), "--for", framework, "--model", "/m/q"])
    out: Any = capsys.readouterr().out
    rejected = REJECTED.get(framework, 0)
    assert rc == (1 if rejected else 0)
    assert out.startswith(f"{framework}: {3 - rejected} of 3 samples written") and "run: " in out


def test_cli_unknown_framework(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(SAMPLES[0].to_json().decode() + "\n", encoding="utf-8")
    assert main(["export", str(src), str(tmp_path / "o"), "--for", "nope"]) == 1
    assert "unknown framework 'nope'" in capsys.readouterr().err
