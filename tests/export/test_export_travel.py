"""Exports that travel: train + eval, names, --force, relative paths, file modes (issue 16)."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import FRAMEWORKS, export_samples
from sftforge.pipeline.run import run_recipe
from sftforge.sample import Message, Sample
from swift_script import swift_args

TRAIN = [
    Sample([Message("user", f"问题 {i}"), Message("assistant", f"答案 {i}")]) for i in range(4)
]
EVAL = [
    Sample([Message("user", f"eval q{i}"), Message("assistant", f"eval a{i}")]) for i in range(2)
]


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _script_args(script: Path) -> list[str]:
    lines = script.read_text(encoding="utf-8").split("\n", 3)
    assert lines[:3] == ["#!/usr/bin/env bash", "set -euo pipefail", 'cd "$(dirname "$0")"']
    return _command_words(lines[3])


def _command_words(body: str) -> list[str]:
    """The command's words, after a preamble of comments, exports and NAME=... lines (the
    script's own "$@" left out)."""
    lines = body.split("\n")
    while lines and re.match(r"#|export |[A-Z_][A-Z0-9_]*=", lines[0]):
        lines.pop(0)
    words = shlex.split("\n".join(lines).replace("\\\n", " "))
    return [w for w in words if w != "$@"]


def _opts(args: list[str]) -> dict[str, str]:
    start = next(i for i, a in enumerate(args) if a.startswith("--"))
    return dict(zip(args[start::2], args[start + 1 :: 2], strict=True))


def _py_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def _inside(folder: Path, rel: str) -> Path:
    """``rel`` as the trainer resolves it when started in ``folder``: relative, and inside."""
    assert not Path(rel).is_absolute(), rel
    path = (folder / rel).resolve()
    assert path.is_relative_to(folder.resolve()), rel
    return path


def _data_paths(framework: str, d: Path) -> tuple[list[Path], list[str]]:
    """(data files the config reads, output folders it writes) for an export folder ``d``."""
    if framework == "llamafactory":
        cfg = yaml.safe_load((d / "train_lora_sft.yaml").read_text(encoding="utf-8"))
        info = json.loads((_inside(d, cfg["dataset_dir"]) / "dataset_info.json").read_text())
        names = [cfg["dataset"], cfg["eval_dataset"]]
        files = [_inside(d, str(Path(cfg["dataset_dir"]) / info[n]["file_name"])) for n in names]
        return files, [cfg["output_dir"]]
    if framework == "xtuner":
        config = d / "xtuner_qlora_config.py"
        values = _py_values(config)
        # the path lines run as mmengine runs them: with __file__ set to the config's path
        lines = [
            line
            for line in config.read_text(encoding="utf-8").splitlines()
            if line.startswith(("export_dir = ", "data_path = ", "eval_data_path = "))
        ]
        assert len(lines) == 3
        paths: dict[str, Any] = {"__file__": str(config)}
        exec("\n".join(lines), paths)
        files = [Path(paths[k]) for k in ("data_path", "eval_data_path")]
        assert all(f.resolve().is_relative_to(d.resolve()) for f in files)
        assert values["evaluation_inputs"] == ["eval q0", "eval q1"]
        return files, []
    if framework == "swift":
        o = _opts(swift_args(d / "train_swift.sh", d.parent))
        return [_inside(d, o["--dataset"]), _inside(d, o["--val_dataset"])], [o["--output_dir"]]
    if framework == "axolotl":
        cfg = yaml.safe_load((d / "axolotl.yaml").read_text(encoding="utf-8"))
        assert cfg["val_set_size"] == 0
        files = [
            _inside(d, cfg["datasets"][0]["path"]),
            _inside(d, cfg["test_datasets"][0]["path"]),
        ]
        return files, [cfg["output_dir"], cfg["dataset_prepared_path"]]
    if framework == "litgpt":
        cfg = yaml.safe_load((d / "finetune_lora.yaml").read_text(encoding="utf-8"))
        data = cfg["data"]["init_args"]
        folder = _inside(d, data["json_path"])  # a folder: LitGPT reads train.json + val.json
        assert "val_split_fraction" not in data
        return [folder / "train.json", folder / "val.json"], [cfg["out_dir"]]
    assert framework == "trl"
    o = _opts(_script_args(d / "train_trl.sh"))
    folder = _inside(d, o["--dataset_name"])
    assert o["--dataset_test_split"] == "validation" and o["--eval_strategy"] == "steps"
    text = (d / "train_trl.py").read_text(encoding="utf-8")
    assert "os.path.dirname(os.path.abspath(__file__))" in text and '"validation"' in text
    return [folder / "train.jsonl", folder / "validation.jsonl"], [o["--output_dir"]]


def _rows(path: Path) -> int:
    text = path.read_text(encoding="utf-8")
    return len(json.loads(text)) if path.suffix == ".json" else len(text.splitlines())


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_copied_export_resolves_every_path_inside_itself(framework: str, tmp_path: Path) -> None:
    src = tmp_path / "made" / "here"
    # each framework's name for the Qwen template: LitGPT's prompt style, XTuner's PROMPT_TEMPLATE
    template = {"litgpt": "qwen2.5", "xtuner": "qwen_chat"}.get(framework, "qwen")
    res = export_samples(
        TRAIN, framework, src, eval_samples=EVAL, name="faq", model="/m/q", template=template
    )
    dst = tmp_path / "elsewhere" / "gpu-box"
    shutil.copytree(src, dst)
    shutil.rmtree(tmp_path / "made")
    files, outputs = _data_paths(framework, dst)
    assert [_rows(f) for f in files] == [4, 2]
    for out in outputs:
        _inside(dst, out)
    # checkpoints are named after the dataset (xtuner: the work dir its command names)
    assert all("faq" in out for out in outputs if "prepared" not in out)
    assert framework != "xtuner" or res.command.endswith("--work-dir work_dirs/faq")
    for f in dst.rglob("*"):
        if f.is_file():
            assert str(tmp_path) not in f.read_text(encoding="utf-8"), f


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_files_get_normal_permissions(framework: str, tmp_path: Path) -> None:
    res = export_samples(TRAIN, framework, tmp_path / "e", eval_samples=EVAL, model="/m/q")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in res.files}
    assert set(modes.values()) <= {0o644, 0o755}, modes
    assert all(modes[n] == 0o755 for n in modes if n.endswith(".sh")), modes
    os.umask(0o027)
    res = export_samples(TRAIN, framework, tmp_path / "f", model="/m/q")
    assert {stat.S_IMODE(p.stat().st_mode) & 0o666 for p in res.files} == {0o640}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_refuses_to_overwrite_without_force(framework: str, tmp_path: Path) -> None:
    out = tmp_path / "e"
    first = export_samples(TRAIN, framework, out, model="/m/q")
    before = {p: p.read_bytes() for p in first.files}
    with pytest.raises(SftforgeError, match="--force") as err:
        export_samples(EVAL, framework, out, model="/m/q")
    assert err.value.file == str(out)
    assert {p: p.read_bytes() for p in first.files} == before  # nothing was touched
    export_samples(EVAL, framework, out, model="/m/q", force=True)
    assert {p: p.read_bytes() for p in first.files} != before


def test_llamafactory_names_and_merges_other_datasets(tmp_path: Path) -> None:
    out = tmp_path / "lf"
    export_samples(TRAIN, "llamafactory", out, name="faq", template="qwen")
    # a second dataset under another name lands beside the first only with --force (its
    # training YAML would be replaced), and dataset_info.json keeps both entries
    with pytest.raises(SftforgeError, match=r"train_lora_sft\.yaml"):
        export_samples(EVAL, "llamafactory", out, name="other")
    export_samples(EVAL, "llamafactory", out, name="other", force=True)
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"faq", "other"} and (out / "faq.json").exists()
    cfg = yaml.safe_load((out / "train_lora_sft.yaml").read_text())
    assert cfg["dataset"] == "other" and "eval_dataset" not in cfg
    assert cfg["dataset_dir"] == "." and not Path(cfg["output_dir"]).is_absolute()


def _write(path: Path, samples: list[Sample]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(s.to_json().decode() + "\n" for s in samples), encoding="utf-8")
    return path


def test_cli_names_after_the_input_or_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "faq_clean.jsonl", TRAIN)
    assert main(["export", str(src), str(tmp_path / "a"), "--for", "llamafactory"]) == 0
    assert set(json.loads((tmp_path / "a" / "dataset_info.json").read_text())) == {"faq_clean"}
    out = capsys.readouterr().out
    assert f"run: cd {tmp_path / 'a'} && llamafactory-cli train train_lora_sft.yaml" in out
    args = [
        "export",
        str(src),
        str(tmp_path / "b"),
        "--for",
        "llamafactory",
        "--name",
        "常见问题 v1",
    ]
    assert main(args) == 0
    assert set(json.loads((tmp_path / "b" / "dataset_info.json").read_text())) == {"常见问题_v1"}
    # a split file is named after its folder
    t = _write(tmp_path / "faq-run" / "train.jsonl", TRAIN)
    e = _write(tmp_path / "faq-run" / "validation.jsonl", EVAL)
    args = [
        "export",
        str(tmp_path / "c"),
        "--for",
        "llamafactory",
        "--train",
        str(t),
        "--eval",
        str(e),
    ]
    assert main(args) == 0
    cfg = yaml.safe_load((tmp_path / "c" / "train_lora_sft.yaml").read_text())
    assert (cfg["dataset"], cfg["eval_dataset"]) == ("faq-run", "faq-run_eval")


def test_cli_second_export_into_the_same_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _write(tmp_path / "train.jsonl", TRAIN)
    val = _write(tmp_path / "validation.jsonl", EVAL)
    out = tmp_path / "lf"
    assert main(["export", str(train), str(out), "--for", "llamafactory"]) == 0
    before = (out / "train_lora_sft.yaml").read_bytes()
    capsys.readouterr()
    assert main(["export", str(val), str(out), "--for", "llamafactory"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: ") and "--force" in err and "--eval" in err
    assert (out / "train_lora_sft.yaml").read_bytes() == before


def test_cli_takes_a_run_folder_with_its_validation_split(tmp_path: Path) -> None:
    rows = [Sample([Message("user", f"q{i} 问"), Message("assistant", f"a{i}")]) for i in range(20)]
    _write(tmp_path / "in.jsonl", rows)
    recipe = {
        "inputs": ["in.jsonl"],
        "steps": [{"split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}}}],
        "outputs": {
            "train": {"format": "sharegpt", "path": "train.jsonl"},
            "validation": {"format": "sharegpt", "path": "validation.jsonl"},
            "test": {"format": "sharegpt", "path": "test.jsonl"},
        },
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    run_recipe(tmp_path / "r.yaml", tmp_path / "runs" / "faq-v1", workers=1)
    # every file of the run folder, like every export file, has the usual permissions
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "runs").rglob("*.*")}
    assert set(modes.values()) == {0o644}, modes
    out = tmp_path / "ax"
    assert main(["export", str(tmp_path / "runs" / "faq-v1"), str(out), "--for", "axolotl"]) == 0
    cfg = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert _rows(out / cfg["datasets"][0]["path"]) == 16
    assert _rows(out / cfg["test_datasets"][0]["path"]) == 2
    lf = tmp_path / "lf"
    assert (
        main(["export", str(tmp_path / "runs" / "faq-v1"), str(lf), "--for", "llamafactory"]) == 0
    )
    assert set(json.loads((lf / "dataset_info.json").read_text())) == {"faq-v1", "faq-v1_eval"}


def test_cli_bad_sources_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notarun").mkdir()
    assert main(["export", str(tmp_path / "notarun"), str(tmp_path / "o"), "--for", "trl"]) == 1
    assert "not a run folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "o"), "--for", "trl"]) == 1
    assert "--train" in capsys.readouterr().err


def test_trl_data_folder_loads_as_train_and_validation_splits(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    from datasets import load_dataset

    export_samples(TRAIN, "trl", tmp_path / "t", eval_samples=EVAL, model="/m/q")
    ds = load_dataset(str(tmp_path / "t" / "data"))  # what `trl sft --dataset_name data` does
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 4, "validation": 2}


def test_unreadable_dataset_info_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "lf"
    out.mkdir()
    (out / "dataset_info.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SftforgeError, match=r"cannot read the existing dataset_info\.json") as err:
        export_samples(TRAIN, "llamafactory", out, force=True)
    assert err.value.file == str(out / "dataset_info.json")
    assert sorted(p.name for p in out.iterdir()) == ["dataset_info.json"]


def test_a_name_is_never_a_path(tmp_path: Path) -> None:
    res = export_samples(TRAIN, "llamafactory", tmp_path / "lf", name="../../escape")
    assert all(p.parent == tmp_path / "lf" for p in res.files)
    assert set(json.loads((tmp_path / "lf" / "dataset_info.json").read_text())) == {"escape"}
