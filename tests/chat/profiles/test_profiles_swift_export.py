"""``export --for swift`` and ``tokenize --profile swift`` agree: one template decision, the token
options written into ``train_swift.sh``, ``profile_settings``; and (slow) ms-swift itself loads the
moved export and builds the profile's rows, then trains one step on CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.swift import profile_settings
from sftforge.sample import Message, Sample, ToolCall
from swift_script import swift_args

ROOT = Path(__file__).resolve().parents[3]
PEER = ROOT / "src" / "sftforge" / "export" / "peers" / "swift.py"

WEATHER = {
    "name": "weather",
    "description": "查询天气",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
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
            Message("user", "北京天气?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", '{"t": 3}'),
            Message("assistant", "3 度"),
        ],
        tools=[WEATHER],
    ),
    # ends with a query: ms-swift trains it (the answers before it), so the profile keeps it
    Sample([Message("user", "a"), Message("assistant", "b"), Message("user", "c")]),
]


def _opts(args: list[str]) -> dict[str, str]:
    """``--key value`` pairs of ``swift sft``'s arguments (every option there takes a value)."""
    assert args[0] == "sft"
    return dict(zip(args[1::2], args[2::2], strict=True))


def _rows(rows: list[Any]) -> list[tuple[list[int], list[int]]]:
    return [(r.input_ids, r.labels) for r in rows if isinstance(r, Encoded)]


def _model_dir(tmp_path: Path, tok: Any) -> Path:
    """A model folder as ``--model`` names it: the tokenizer and a config naming its type."""
    folder = tmp_path / "model"
    tok.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("template", [None, "qwen2_5", "chatml"])
def test_export_and_tokenize_take_one_template_decision(
    tmp_path: Path, tok: Any, template: str | None
) -> None:
    model = _model_dir(tmp_path, tok)
    out = tmp_path / "out"
    res = export_samples(SAMPLES, "swift", out, model=str(model), template=template)
    opts = _opts(swift_args(out / "train_swift.sh", tmp_path))
    # the tokenizer's plain ChatML without a default system is ms-swift's qwen3_nothinking
    assert opts["--template"] == (template or "qwen3_nothinking")
    assert opts["--model_type"] == "llama"  # from config.json: ms-swift cannot tell Llamas apart
    assert not res.notes
    # tokenize --profile swift with the same --template builds what the script makes ms-swift do
    job = ExportJob(out, SAMPLES, model=str(model), template=template, tokenizer=str(model))
    s = profile_settings(job)
    assert s.template == opts["--template"] and s.max_length == int(opts["--max_length"])
    from_script = get_profile("swift", tok, template=opts["--template"], max_length=2048)
    from_cli = get_profile("swift", tok, template=template, max_length=2048)
    expected = _rows(from_script.encode_batch(SAMPLES))
    assert _rows(from_cli.encode_batch(SAMPLES)) == expected
    assert len(expected) == (3 if template == "chatml" else 4)  # chatml: no agent template


def test_a_template_unlike_every_built_in_is_trained_with_qwen_and_said(
    tmp_path: Path, make_tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tok = make_tokenizer()
    tok.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    model = _model_dir(tmp_path, tok)
    res = export_samples(SAMPLES, "swift", tmp_path / "out", model=str(model))
    assert _opts(swift_args(tmp_path / "out" / "train_swift.sh", tmp_path))["--template"] == "qwen"
    assert any("--template tokenizer" in n for n in res.notes)
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "a"},
                                             {"role": "assistant", "content": "b"}]}) + "\n")  # fmt: skip
    out = tmp_path / "r.parquet"
    assert (
        main(["tokenize", str(data), str(out), "--profile", "swift", "--tokenizer", str(model)])
        == 0
    )
    assert "--template tokenizer" in capsys.readouterr().err  # tokenize says it too


def test_token_options_are_written_and_unknown_ones_refused(tmp_path: Path) -> None:
    options = {
        "loss_scale": "last_round",
        "agent_template": "react_zh",
        "truncation_strategy": "left",
        "default_system": "你是 一个助手",
        "model_type": "qwen2",
    }
    export_samples(SAMPLES, "swift", tmp_path / "out", template="qwen", options=options)
    opts = _opts(swift_args(tmp_path / "out" / "train_swift.sh", tmp_path))
    assert {k: opts[f"--{k}"] for k in options} == options
    job = ExportJob(tmp_path, SAMPLES, template="qwen", options=options)
    assert profile_settings(job).options == {k: v for k, v in options.items() if k != "model_type"}
    with pytest.raises(SftforgeError, match="unknown ms-swift option"):
        export_samples(SAMPLES, "swift", tmp_path / "x", options={"mask_history": True})
    with pytest.raises(SftforgeError, match="chat template file"):
        export_samples(SAMPLES, "swift", tmp_path / "y", template="t.jinja")
    with pytest.raises(SftforgeError, match="not an ms-swift template name"):
        export_samples(SAMPLES, "swift", tmp_path / "z", template="qwen\ntouch PWNED")
    # a type the profile does not follow is written as given, and said
    res = export_samples(SAMPLES, "swift", tmp_path / "l3", template="llama3")
    assert _opts(swift_args(tmp_path / "l3" / "train_swift.sh", tmp_path))["--template"] == "llama3"
    assert any("cannot show its tokens" in n for n in res.notes)


def test_the_jinja_backend_is_written_for_template_tokenizer(tmp_path: Path, tok: Any) -> None:
    model = _model_dir(tmp_path, tok)
    export_samples(SAMPLES, "swift", tmp_path / "out", model=str(model), template="tokenizer")
    opts = _opts(swift_args(tmp_path / "out" / "train_swift.sh", tmp_path))
    assert opts["--template_backend"] == "jinja" and opts["--template"] == "qwen3_nothinking"
    job = ExportJob(tmp_path, SAMPLES, template="tokenizer", tokenizer=str(model))
    s = profile_settings(job)
    via_settings = get_profile("swift", tok, template=s.template, **s.options)
    via_cli = get_profile("swift", tok, template="tokenizer")
    assert _rows(via_settings.encode_batch(SAMPLES)) == _rows(via_cli.encode_batch(SAMPLES))
    # another ms-swift type for the jinja backend: its default system goes in first
    export_samples(
        SAMPLES,
        "swift",
        tmp_path / "q",
        model=str(model),
        template="tokenizer",
        options={"swift_template": "qwen"},
    )
    assert _opts(swift_args(tmp_path / "q" / "train_swift.sh", tmp_path))["--template"] == "qwen"
    job = ExportJob(tmp_path, SAMPLES, template="tokenizer", options={"swift_template": "qwen"})
    s = profile_settings(job)
    (row,) = get_profile("swift", tok, template=s.template, **s.options).encode_batch(SAMPLES[1:2])
    assert isinstance(row, Encoded) and "You are a helpful assistant." in tok.decode(row.input_ids)


def test_precision_is_chosen_on_the_training_machine(tmp_path: Path) -> None:
    export_samples(SAMPLES, "swift", tmp_path / "out", template="qwen")
    script = tmp_path / "out" / "train_swift.sh"
    cpu = swift_args(script, tmp_path, bf16_gpu=False)
    assert " ".join(cpu).count("--torch_dtype float32 --fp16 false --bf16 false") == 1
    gpu = swift_args(script, tmp_path, bf16_gpu=True)
    assert not {"--torch_dtype", "--bf16", "--fp16"} & set(gpu)  # ms-swift's own choice
    export_samples(
        SAMPLES, "swift", tmp_path / "f16", template="qwen", options={"torch_dtype": "float16"}
    )
    fixed = swift_args(tmp_path / "f16" / "train_swift.sh", tmp_path, bf16_gpu=False)
    assert _opts(fixed)["--torch_dtype"] == "float16" and "--bf16" not in fixed


def test_cli_option_reaches_the_script_and_the_profile(
    tmp_path: Path, tok_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(
        json.dumps(
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        )
        + "\n",
        encoding="utf-8",
    )
    # the same --option values for both: model_type does not change the tokens, the profile takes it
    common = [
        "--tokenizer",
        str(tok_dir),
        "--option",
        "loss_scale=all",
        "--option",
        "model_type=qwen2",
    ]
    assert (
        main(["tokenize", str(data), str(tmp_path / "r.parquet"), "--profile", "swift", *common])
        == 0
    )
    assert main(["export", str(data), str(tmp_path / "e"), "--for", "swift", *common]) == 0
    capsys.readouterr()
    opts = _opts(swift_args(tmp_path / "e" / "train_swift.sh", tmp_path))
    assert opts["--loss_scale"] == "all" and opts["--model_type"] == "qwen2"
    import pyarrow.parquet as pq

    (row,) = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert row["labels"] == [-100, *row["input_ids"][1:]]  # loss_scale all: every token but one


def _swift_python() -> Path:
    venv = Path(os.environ.get("SFTFORGE_SWIFT_VENV") or ROOT / ".bench-venvs" / "swift")
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"ms-swift venv missing ({venv}): set SFTFORGE_SWIFT_VENV")
    return python


@pytest.mark.slow
def test_ms_swift_builds_the_profile_rows_from_the_moved_export(tmp_path: Path, tok: Any) -> None:
    python = _swift_python()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    model_dir = tmp_path / "tiny"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(model_dir)  # bf16, as shipped
    tok.save_pretrained(model_dir)
    samples = SAMPLES * 5
    export_samples(samples, "swift", tmp_path / "exp", model=str(model_dir), max_length=64)
    moved = tmp_path / "elsewhere" / "exp"
    moved.parent.mkdir()
    shutil.move(tmp_path / "exp", moved)
    out = tmp_path / "rows.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [str(python), str(PEER), str(moved), str(out), "--step"],
        cwd=moved,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["trainer"].startswith("ms-swift ") and info["step"]["ok"], info
    theirs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    job = ExportJob(moved, samples, model=str(model_dir), max_length=64, tokenizer=str(model_dir))
    s = profile_settings(job)
    ours = get_profile("swift", tok, template=s.template, max_length=s.max_length, **s.options)
    assert _rows(ours.encode_batch(samples)) == [(t["input_ids"], t["labels"]) for t in theirs]
    assert info["rows"] == len(theirs) > 0


EDGE_RECORDS = [
    # a tool result right after the user turn: appended to the query
    {"messages": [{"role": "user", "content": "查天气"}, {"role": "tool_response", "content": "晴"},
                  {"role": "assistant", "content": "今天晴"}]},
    # starts with an answer
    {"messages": [{"role": "assistant", "content": "开场白"}, {"role": "user", "content": "好"},
                  {"role": "assistant", "content": "嗯"}]},
    # a ReAct-style answer before two results (hermes falls back to ReAct's observations)
    {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
                  {"role": "assistant", "content": "Thought: x\nAction: f\nAction Input: {}"},
                  {"role": "tool_response", "content": "r1"}, {"role": "tool_response", "content": "r2"},
                  {"role": "assistant", "content": "done"}],
     "tools": json.dumps([{"name": "f", "description": "d", "parameters": {}}])},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "loss": False},
                  {"role": "user", "content": "q2"}, {"role": "assistant", "content": "b"}]},
    # parallel calls, then a final user turn
    {"messages": [{"role": "user", "content": "q"},
                  {"role": "tool_call", "content": '{"name": "f", "arguments": {"x": 1.5, "y": [1, 2]}}'},
                  {"role": "tool_call", "content": '{"name": "g", "arguments": {}}'},
                  {"role": "tool_response", "content": "r1"}, {"role": "tool_response", "content": "r2"},
                  {"role": "assistant", "content": "ok"}, {"role": "user", "content": "again"}],
     "tools": json.dumps([{"name": "f", "description": "d", "parameters": {"type": "object"}},
                          {"name": "g", "description": "e"}])},
]  # fmt: skip
EDGE_CASES = [
    {"template": "qwen"},
    {"template": "qwen", "agent_template": "react_en"},
    {"template": "qwen2_5", "agent_template": "react_zh", "loss_scale": "last_round"},
    {"template": "qwen3_nothinking", "max_length": 30, "truncation_strategy": "left"},
]


@pytest.mark.slow
def test_agent_templates_and_turn_orders_equal_ms_swift_encode(
    tmp_path: Path, tok: Any, tok_dir: Path
) -> None:
    python = _swift_python()
    from sftforge.formats import get_format

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in EDGE_RECORDS))
    jobs = [
        {"tokenizer": str(tok_dir), "data": str(data), "out": str(tmp_path / f"{n}.peer"), **case}
        for n, case in enumerate(EDGE_CASES)
    ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(python), str(ROOT / "bench" / "_peer_swift.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )
    samples = [get_format("swift").parse(r) for r in EDGE_RECORDS]
    for job, case in zip(jobs, EDGE_CASES, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        options = {k: v for k, v in case.items() if k not in ("template", "max_length")}
        profile = get_profile(
            "swift", tok, template=case["template"], max_length=case.get("max_length"), **options
        )
        ours = profile.encode_batch(samples)
        assert all(isinstance(o, Encoded) for o in ours) and not any("error" in t for t in theirs)
        assert _rows(ours) == [(t["input_ids"], t["labels"]) for t in theirs], case
