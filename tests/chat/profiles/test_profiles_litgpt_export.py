"""``export --for litgpt`` and ``tokenize --profile litgpt``: one template decision, the options
written into the config, the records the profile encodes, and the script's conversion step run
with stand-in ``litgpt`` and ``python`` programs that log their arguments."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.chat.profiles.litgpt_styles import apply_style
from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.litgpt import profile_settings
from sftforge.formats import LossLog
from sftforge.sample import Message, Sample

SAMPLES = [
    Sample([Message("user", "你好"), Message("assistant", "您好")]),
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "2+2?"),
            Message("assistant", "4"),
        ]
    ),
]


def _config(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "finetune_lora.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("template", [None, "llama3"])
def test_export_and_profile_take_one_decision(
    tok_dir: Path, tmp_path: Path, template: str | None
) -> None:
    res = export_samples(SAMPLES, "litgpt", tmp_path, model=str(tok_dir), template=template)
    cfg = _config(tmp_path)
    style = cfg["data"]["init_args"]["prompt_style"]
    prof = get_profile("litgpt", load_tokenizer(str(tok_dir)), template=template)
    assert style == prof.style == ("qwen3" if template is None else "llama3")
    # llama3 is not the tokenizer's ChatML: the export says so
    assert any("does not write conversations" in n for n in res.notes) == (template is not None)
    assert cfg["data"]["init_args"]["mask_prompt"] is True
    records = json.loads((tmp_path / "data" / "train.json").read_text(encoding="utf-8"))
    assert len(records) == 3 and records[2]["sys_prompt"] == "你是助手"
    # the records the trainer reads render to the profile's rows, row for row
    rows = [r for r in prof.encode_batch(SAMPLES) if isinstance(r, Encoded)]
    assert len(rows) == 3
    for rec, row in zip(records, rows, strict=True):
        prompt = apply_style(style, rec)
        assert row.input_ids[: len(prof.lit.encode_many([prompt])[0])] == prof.lit.finish(
            prof.lit.encode_many([prompt])[0]
        )


def test_options_flow_into_the_config_and_the_profile_settings(
    tok_dir: Path, tmp_path: Path
) -> None:
    export_samples(
        SAMPLES[:1], "litgpt", tmp_path, model=str(tok_dir), options={"mask_prompt": False}
    )
    assert _config(tmp_path)["data"]["init_args"]["mask_prompt"] is False
    job = ExportJob(
        tmp_path, SAMPLES, tokenizer=str(tok_dir), max_length=512,
        options={"mask_prompt": False}, loss=LossLog(allow=True),
    )  # fmt: skip
    s = profile_settings(job)
    assert (s.template, s.options, s.max_length) == (
        "qwen3",
        {"mask_prompt": False, "allow_lossy": True},
        512,
    )
    prof = get_profile("litgpt", load_tokenizer(str(tok_dir)), template=s.template, **s.options)
    assert prof.mask_prompt is False
    with pytest.raises(SftforgeError, match="unknown litgpt option"):
        export_samples(SAMPLES, "litgpt", tmp_path / "x", options={"mask_history": True})


def test_tokenize_profile_takes_the_export_options(
    tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    src = tmp_path / "in.jsonl"
    src.write_text("".join(s.to_json().decode() + "\n" for s in SAMPLES), encoding="utf-8")
    out = tmp_path / "rows.parquet"
    args = ["tokenize", str(src), str(out), "--tokenizer", str(tok_dir), "--profile", "litgpt"]
    assert main([*args, "--option", "mask_prompt=false"]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 3  # one row per answer
    assert table["labels"].to_pylist() == table["input_ids"].to_pylist()


def test_the_files_parse_and_the_eval_split_is_the_val_file(tmp_path: Path) -> None:
    res = export_samples(SAMPLES[:1], "litgpt", tmp_path, eval_samples=SAMPLES[:1], model="/m/q")
    cfg = _config(tmp_path)
    assert cfg["data"] == {
        "class_path": "litgpt.data.JSON",
        "init_args": {"json_path": "data", "mask_prompt": True, "prompt_style": "alpaca"},
    }
    assert cfg["eval"]["final_validation"] is True and "precision" not in cfg
    assert len(json.loads((tmp_path / "data" / "val.json").read_text(encoding="utf-8"))) == 1
    ast.parse((tmp_path / "convert_checkpoint.py").read_text(encoding="utf-8"))
    subprocess.run(["bash", "-n", str(tmp_path / "finetune_lora.sh")], check=True)
    assert res.command.startswith("bash ") and res.command.endswith("finetune_lora.sh")


def _fake_bin(tmp_path: Path) -> Path:
    """``litgpt`` and the ``python`` beside it, logging their arguments; the python "converts"
    by writing CKPT/lit_model.pth."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "litgpt").write_text(f'#!/usr/bin/env bash\necho "litgpt $*" >> {log}\n')
    (bin_dir / "python").write_text(
        f'#!/usr/bin/env bash\necho "python $*" >> {log}\nmkdir -p "$3" && touch "$3/lit_model.pth"\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def test_the_script_converts_once_then_trains(tmp_path: Path) -> None:
    model = tmp_path / "My Model"
    model.mkdir()
    folder = tmp_path / "export"
    export_samples(SAMPLES[:1], "litgpt", folder, model=str(model))
    env = {**os.environ, "PATH": f"{_fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}"}
    script = str(folder / "finetune_lora.sh")
    subprocess.run(["bash", script, "--train.max_steps", "1"], check=True, env=env)
    subprocess.run(["bash", script], check=True, env={**env, "PRECISION": "32-true"})
    calls = (tmp_path / "calls.log").read_text(encoding="utf-8").splitlines()
    ckpt = "checkpoints/My Model"
    assert calls == [
        f"python convert_checkpoint.py {model} {ckpt}",
        f"litgpt finetune_lora {ckpt} --config finetune_lora.yaml --train.max_steps 1",
        f"litgpt finetune_lora {ckpt} --config finetune_lora.yaml --precision 32-true",
    ]
    assert (folder / ckpt / "lit_model.pth").exists()


def test_a_hub_id_is_downloaded_by_litgpt(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    export_samples(SAMPLES[:1], "litgpt", folder, model="Qwen/Qwen2.5-0.5B-Instruct")
    env = {**os.environ, "PATH": f"{_fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", str(folder / "finetune_lora.sh")], check=True, env=env)
    calls = (tmp_path / "calls.log").read_text(encoding="utf-8").splitlines()
    assert calls[0] == "litgpt download Qwen/Qwen2.5-0.5B-Instruct --checkpoint_dir checkpoints"
    assert calls[1].startswith("litgpt finetune_lora checkpoints/Qwen/Qwen2.5-0.5B-Instruct ")


def test_the_peer_finds_the_checkpoint_the_script_converts_into(tmp_path: Path) -> None:
    from sftforge.export.peers import litgpt as peer  # standard library only at import

    model = tmp_path / "a model's folder"
    model.mkdir()
    export_samples(SAMPLES[:1], "litgpt", tmp_path / "e", model=str(model))
    assert peer._checkpoint(tmp_path / "e" / "finetune_lora.sh") == Path(
        "checkpoints/a model's folder"
    )
