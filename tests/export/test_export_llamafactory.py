"""``train_lora_sft.yaml``: valid YAML with its decisions as comments, no bf16, options written by
LLaMA-Factory's names and typed, bad options refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.export.common import ExportJob, ProfileSettings
from sftforge.export.llamafactory import profile_settings
from sftforge.sample import Message, Sample

TRAIN = [Sample([Message("user", f"问题{i}"), Message("assistant", f"答案{i}")]) for i in range(3)]
EVAL = [Sample([Message("user", "q"), Message("assistant", "a")])]


def _config(folder: Path) -> tuple[str, dict[str, object]]:
    text = (folder / "train_lora_sft.yaml").read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def test_precision_is_a_commented_choice_and_the_text_stays_yaml(tmp_path: Path) -> None:
    export_samples(TRAIN, "llamafactory", tmp_path, model="Qwen/Qwen2.5-0.5B-Instruct",
                   eval_samples=EVAL)  # fmt: skip
    text, cfg = _config(tmp_path)
    assert "bf16" not in cfg and "fp16" not in cfg  # LLaMA-Factory's own choice: starts on a CPU
    assert cfg["report_to"] == "none" and cfg["eval_dataset"] == "sftforge_eval"
    assert cfg["dataset_dir"] == "." and cfg["output_dir"] == "saves/sftforge/lora-sft"
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert (
        "# precision: neither bf16 nor fp16 is set, so LLaMA-Factory 0.9.5 loads the model in its"
        in comments
    )
    # the offered choices are lines a user uncomments, and the file stays valid YAML
    for choice, key in (("# bf16: true", "bf16"), ("# fp16: true", "fp16")):
        assert choice in comments
        edited = yaml.safe_load(text.replace(choice + "\n", choice[2:] + "\n"))
        assert edited[key] is True and {k: v for k, v in edited.items() if k != key} == cfg
    assert all(not ln.startswith(" ") for ln in text.splitlines())  # every key top-level


def test_options_are_written_by_llamafactory_names_and_typed(tmp_path: Path) -> None:
    options = {"mask_history": True, "default_system": "你是助手", "tool_format": "qwen",
               "enable_thinking": False}  # fmt: skip
    res = export_samples(TRAIN, "llamafactory", tmp_path, template="qwen", max_length=512,
                         options=options)  # fmt: skip
    text, cfg = _config(tmp_path)
    assert {k: cfg[k] for k in options} == options
    assert cfg["template"] == "qwen" and cfg["cutoff_len"] == 512
    assert "default_system: 你是助手" in text  # CJK kept as it is
    assert res.profile == ProfileSettings("qwen", options, 512)
    job = ExportJob(tmp_path, TRAIN, template="qwen", max_length=512, options=options)
    assert profile_settings(job) == res.profile


def test_unknown_model_leaves_the_template_to_it_and_says_so(tmp_path: Path) -> None:
    res = export_samples(TRAIN, "llamafactory", tmp_path)  # PATH/TO/MODEL: tokenizer unknown
    text, cfg = _config(tmp_path)
    assert "template" not in cfg and cfg["cutoff_len"] == 2048
    assert "# template: not set, so LLaMA-Factory parses the model tokenizer's own" in text
    assert any("it was not checked; pass --tokenizer" in n for n in res.notes)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "**Machine.** LLaMA-Factory 0.9.5" in readme and "`report_to: none`" in readme
    assert res.profile == ProfileSettings(None, {}, 2048)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("cutoff_len=12", "set with --max-len"),
        ("mask_history=maybe", "takes true or false"),
        ("learning_rate=1e-5", "unknown llamafactory option"),
    ],
)
def test_bad_options_are_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, message: str
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(s.to_json().decode() + "\n" for s in TRAIN), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["export", str(data), str(out), "--for", "llamafactory", "--option", option]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(SftforgeError, match="incompatible"):
        export_samples(TRAIN, "llamafactory", tmp_path / "x",
                       options={"mask_history": True, "train_on_prompt": True})  # fmt: skip


def test_the_peer_script_is_standalone() -> None:
    """It runs with LLaMA-Factory's python: the standard library and the trainer only."""
    import ast
    import sys

    from sftforge.export import peers

    tree = ast.parse((Path(peers.__file__).parent / "llamafactory.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}  # fmt: skip
    imported |= {str(n.module).split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}  # fmt: skip
    assert imported - set(sys.stdlib_module_names) == {"llamafactory", "transformers", "torchaudio"}
