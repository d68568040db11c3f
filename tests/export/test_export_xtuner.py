"""``export --for xtuner``: the config starts on CPU and on GPU, its paths follow the folder, its
options are XTuner's names, its README says what XTuner needs (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.sample import Message, Sample

SAMPLES = [
    Sample([Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]),
    Sample([Message("user", "2+2?"), Message("assistant", "4")]),
]
CONFIG = "xtuner_qlora_config.py"


def _assigned(tree: ast.Module, name: str, branch: bool | None = None) -> ast.expr:
    """The value assigned to ``name`` at top level, or inside the ``if use_cuda`` branch."""
    for node in tree.body:
        if branch is not None and isinstance(node, ast.If):
            assert ast.unparse(node.test) == "use_cuda"
            for inner in node.body if branch else node.orelse:
                if isinstance(inner, ast.Assign) and ast.unparse(inner.targets[0]) == name:
                    return inner.value
        is_it = isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == name
        if branch is None and is_it:
            return node.value  # type: ignore[union-attr]
    raise AssertionError(f"{name} is not assigned")


def _keywords(call: ast.expr) -> dict[str, str]:
    assert isinstance(call, ast.Call)
    return {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}


def test_config_picks_qlora_on_cuda_and_float32_lora_without(tmp_path: Path) -> None:
    export_samples(SAMPLES, "xtuner", tmp_path, model="/m/q", template="qwen_chat")
    tree = ast.parse((tmp_path / CONFIG).read_text(encoding="utf-8"))
    # asked when mmengine loads the file; its lazy imports cannot be called, __import__ can
    decided = ast.unparse(_assigned(tree, "use_cuda"))
    assert decided == "__import__('torch').cuda.is_available()"
    gpu, cpu = _keywords(_assigned(tree, "llm", True)), _keywords(_assigned(tree, "llm", False))
    assert (
        gpu["torch_dtype"] == "torch.float16" and "load_in_4bit=True" in gpu["quantization_config"]
    )
    assert cpu["torch_dtype"] == "torch.float32" and "quantization_config" not in cpu
    gpu_optim = _keywords(_assigned(tree, "optim_wrapper", True))
    cpu_optim = _keywords(_assigned(tree, "optim_wrapper", False))
    assert (gpu_optim["type"], gpu_optim["dtype"]) == ("AmpOptimWrapper", "'float16'")
    assert cpu_optim["type"] == "OptimWrapper" and "dtype" not in cpu_optim
    env = ast.unparse(_assigned(tree, "env_cfg"))
    assert "'nccl' if use_cuda else 'gloo'" in env
    assert "bfloat16" not in (tmp_path / CONFIG).read_text(encoding="utf-8")


def test_data_paths_are_the_config_files_own_folder(tmp_path: Path) -> None:
    export_samples(SAMPLES, "xtuner", tmp_path / "a", eval_samples=SAMPLES[:1], model="/m/q")
    text = (tmp_path / "a" / CONFIG).read_text(encoding="utf-8")
    moved = tmp_path / "b" / "c.py"
    moved.parent.mkdir()
    # as mmengine runs the file: __file__ set, wherever the folder went
    lines = [x for x in text.splitlines() if x.startswith(("export_dir", "data_path", "eval_data"))]
    assert len(lines) == 3 and not any("fileDirname" in x for x in lines)  # mmengine: never filled
    values: dict[str, Any] = {"__file__": str(moved)}
    exec("\n".join(lines), values)
    assert values["data_path"] == str(moved.parent / "train.jsonl")
    assert values["eval_data_path"] == str(moved.parent / "validation.jsonl")


def test_training_options_reach_the_config_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    options = {"lr": 1e-5, "batch_size": 4, "accumulative_counts": 2, "pack_to_max_length": True}
    options["weight_decay"] = 0.01  # a float where XTuner writes 0
    export_samples(SAMPLES, "xtuner", tmp_path / "a", model="/m/q", options=options)
    tree = ast.parse((tmp_path / "a" / CONFIG).read_text(encoding="utf-8"))
    values = {k: ast.literal_eval(_assigned(tree, k)) for k in [*options, "max_epochs"]}
    assert values == {**options, "max_epochs": 3}  # max_epochs: XTuner's default
    with pytest.raises(SftforgeError, match="unknown xtuner option"):
        export_samples(SAMPLES, "xtuner", tmp_path / "b", model="/m/q", options={"lora_rank": 8})
    with pytest.raises(SftforgeError, match="whole number"):
        export_samples(SAMPLES, "xtuner", tmp_path / "c", model="/m/q", options={"batch_size": 1.5})
    with pytest.raises(SftforgeError, match="disagree"):
        export_samples(
            SAMPLES,
            "xtuner",
            tmp_path / "d",
            model="/m/q",
            template="default",
            options={"prompt_template": "qwen_chat"},
        )


def test_cli_flags_set_max_length_and_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"instruction": "你好", "output": "好"}\n', encoding="utf-8")
    out = tmp_path / "x"
    args = ["export", str(data), str(out), "--for", "xtuner", "--max-len", "64"]
    # XTuner's own names for them are refused as options: one spelling on the command line
    assert main([*args, "--option", "prompt_template=internlm2_chat"]) == 1
    assert "set with --template" in capsys.readouterr().err
    assert main([*args, "--template", "internlm2_chat"]) == 0
    tree = ast.parse((out / CONFIG).read_text(encoding="utf-8"))
    assert ast.literal_eval(_assigned(tree, "max_length")) == 64
    assert ast.unparse(_assigned(tree, "prompt_template")) == "PROMPT_TEMPLATE.internlm2_chat"


def test_readme_says_xtuner_needs_cuda_and_which_template_and_why(tmp_path: Path) -> None:
    res = export_samples(SAMPLES, "xtuner", tmp_path, model="/m/q")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "torch.cpu.is_bf16_supported" in readme and "QLoRA" in readme
    assert "cannot train on a CPU-only machine" in " ".join(res.notes)
    # no tokenizer to read here: the decision says so and which template it took
    assert any("no tokenizer to read" in n and "'default'" in n for n in res.notes)
    assert "PROMPT_TEMPLATE.default" in (tmp_path / CONFIG).read_text(encoding="utf-8")
