"""``export --for axolotl``: the config it writes (valid YAML, options in it, telemetry off, a
precision and kernels that start on CPU and GPU), the one template decision shared with
``tokenize --profile axolotl``, and (slow) axolotl 0.19 itself loading the export."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.chat.templates import resolve_template
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.export.axolotl import profile_settings
from sftforge.export.common import ExportJob
from sftforge.sample import Message, Sample, ToolCall

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "chat"))

from tiny_chatml import build_tokenizer  # noqa: E402

SAMPLES = [
    Sample([Message("user", "你好"), Message("assistant", "[1, 2] 是列表")]),
    Sample(
        [
            Message("system", "You are helpful."),
            Message("user", "Hi"),
            Message("assistant", "Hello", train=False),
            Message("user", "q"),
            Message("assistant", "the answer is [4]"),
        ]
    ),
    Sample(
        [
            Message("user", "北京天气"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"城市": "北京"})]),
            Message("tool", "晴"),
            Message("assistant", "[晴]"),
        ],
        tools=[{"name": "weather", "parameters": {"type": "object", "properties": {"城市": {}}}}],
    ),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder axolotl accepts: the tiny ChatML tokenizer and a tiny Llama config (and
    random weights, for the training step)."""
    path = tmp_path_factory.mktemp("tiny-model")
    tok = build_tokenizer()
    tok.save_pretrained(path)
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    config.save_pretrained(path)
    return path


def _config(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((folder / "axolotl.yaml").read_text(encoding="utf-8"))
    return data


def test_the_config_starts_on_cpu_and_gpu_and_turns_telemetry_off(
    tmp_path: Path, model_dir: Path
) -> None:
    result = export_samples(SAMPLES, "axolotl", tmp_path / "out", model=str(model_dir))
    cfg = _config(tmp_path / "out")
    assert cfg["bf16"] == "auto"  # chosen at start, never bf16 unconditionally
    assert [cfg[f"lora_{k}_kernel"] for k in ("mlp", "qkv", "o", "embedding")] == [False] * 4
    assert cfg["chat_template"] == "tokenizer_default"
    assert cfg["shuffle_merged_datasets"] is False
    ds = cfg["datasets"][0]
    assert (ds["path"], ds["type"], ds["roles_to_train"], ds["train_on_eos"]) == (
        "train.jsonl", "chat_template", ["assistant"], "turn",
    )  # fmt: skip
    assert ds["message_field_training"] == "weight"
    assert not Path(ds["path"]).is_absolute() and not Path(cfg["output_dir"]).is_absolute()
    # the command, run as a shell line, sets the opt-out before axolotl starts
    command = result.command.split(" && ", 1)[1]
    assert shlex.split(command)[:3] == ["AXOLOTL_DO_NOT_TRACK=1", "axolotl", "train"]
    readme = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "AXOLOTL_DO_NOT_TRACK=1 axolotl train axolotl.yaml" in readme
    assert "telemetry" in readme and "lora_*_kernel" in readme
    text = (tmp_path / "out" / "axolotl.yaml").read_text(encoding="utf-8")
    assert "# precision chosen by axolotl at start" in text  # the choice is explained in the file
    rows = [
        json.loads(x)
        for x in (tmp_path / "out" / "train.jsonl").read_text("utf-8").split("\n")
        if x
    ]
    assert rows[1]["messages"][2]["weight"] == 0  # the train flag axolotl reads
    assert isinstance(rows[2]["tools"], str)  # each row keeps its own tool definitions


def test_the_prepared_data_is_named_after_the_data(tmp_path: Path) -> None:
    # axolotl's cache key leaves the data out: a re-export with other data into the same folder
    # must not reuse the old tokens
    export_samples(SAMPLES, "axolotl", tmp_path / "a")
    export_samples(SAMPLES[:2], "axolotl", tmp_path / "a", force=True)
    export_samples(SAMPLES[:2], "axolotl", tmp_path / "b")
    first = _config(tmp_path / "a")["dataset_prepared_path"]
    assert first == _config(tmp_path / "b")["dataset_prepared_path"]
    export_samples(SAMPLES, "axolotl", tmp_path / "a", force=True)
    second = _config(tmp_path / "a")["dataset_prepared_path"]
    assert second != first and second.startswith("last_run_prepared/")


def test_options_flow_into_the_config(tmp_path: Path) -> None:
    options = {
        "roles_to_train": ["user", "assistant"],
        "train_on_eos": "last",
        "train_on_eot": "last",
        "train_on_inputs": True,
        "eot_tokens": ["<|im_end|>"],
        "drop_system_message": True,
    }
    export_samples(SAMPLES, "axolotl", tmp_path, eval_samples=SAMPLES[:1], options=options)
    cfg = _config(tmp_path)
    for ds in (cfg["datasets"][0], cfg["test_datasets"][0]):
        assert ds["roles_to_train"] == ["user", "assistant"]
        assert (ds["train_on_eos"], ds["train_on_eot"], ds["drop_system_message"]) == (
            "last", "last", True,
        )  # fmt: skip
    assert cfg["train_on_inputs"] is True and cfg["eot_tokens"] == ["<|im_end|>"]
    # one role given as a word (--option roles_to_train=user) is written as axolotl's list
    export_samples(SAMPLES, "axolotl", tmp_path / "one", options={"roles_to_train": "user"})
    assert _config(tmp_path / "one")["datasets"][0]["roles_to_train"] == ["user"]


@pytest.mark.parametrize(
    ("options", "match"),
    [({"nope": 1}, "unknown axolotl option"), ({"chat_template": "chatml"}, "template decision")],
)
def test_options_it_cannot_write_are_refused(
    tmp_path: Path, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(SftforgeError, match=match):
        export_samples(SAMPLES, "axolotl", tmp_path, options=options)
    assert not (tmp_path / "axolotl.yaml").exists()


def _rows(profile: Any, samples: list[Sample]) -> list[tuple[list[int], list[int]]]:
    out = profile.encode_batch(samples)
    assert all(isinstance(r, Encoded) for r in out)
    return [(r.input_ids, r.labels) for r in out]


@pytest.mark.parametrize("template", [None, "chatml"])
def test_export_and_tokenize_profile_take_one_template_decision(
    tmp_path: Path, model_dir: Path, template: str | None
) -> None:
    tok = load_tokenizer(str(model_dir))
    out = tmp_path / "out"
    result = export_samples(
        SAMPLES, "axolotl", out, model=str(model_dir), template=template, max_length=512
    )
    cfg = _config(out)
    if template is None:
        assert cfg["chat_template"] == "tokenizer_default" and not result.notes
        rendered_by_axolotl = tok.chat_template
    else:
        # a sftforge template is written as a file axolotl renders as is, with a warning that
        # it is not the tokenizer's own
        assert (cfg["chat_template"], cfg["chat_template_jinja"]) == (
            "jinja",
            "chat_template.jinja",
        )
        rendered_by_axolotl = (out / "chat_template.jinja").read_text(encoding="utf-8")
        assert rendered_by_axolotl == resolve_template("chatml").source
        assert any(n.startswith("warning:") for n in result.notes)
    # tokenize --profile axolotl [--template X] ...
    cli_profile = get_profile("axolotl", tok, template=template, max_length=512)
    assert cli_profile.chat_template == rendered_by_axolotl  # type: ignore[attr-defined]
    # ... encodes as the profile set up from the export does (what export --check runs)
    job = ExportJob(outdir=out, train=SAMPLES, template=template, max_length=512)
    s = profile_settings(job)
    from_export = get_profile("axolotl", tok, template=s.template, max_length=s.max_length,
                              **s.options)  # fmt: skip
    assert _rows(cli_profile, SAMPLES) == _rows(from_export, SAMPLES)


def test_profile_settings_carry_the_options(tmp_path: Path) -> None:
    job = ExportJob(outdir=tmp_path, train=SAMPLES, max_length=77,
                    options={"train_on_eos": "all", "train_on_inputs": True})  # fmt: skip
    s = profile_settings(job)
    assert (s.template, s.max_length) == (None, 77)
    assert s.options["train_on_eos"] == "all" and s.options["train_on_inputs"] is True
    assert s.options["roles_to_train"] == ["assistant"]
    assert s.options["message_field_training"] == "weight"


def test_a_tokenizer_without_template_needs_one(tmp_path: Path) -> None:
    tok = build_tokenizer()
    tok.chat_template = None
    tok.save_pretrained(tmp_path / "tok")
    with pytest.raises(SftforgeError, match="no chat template"):
        export_samples(SAMPLES, "axolotl", tmp_path / "out", model=str(tmp_path / "tok"))
    export_samples(SAMPLES, "axolotl", tmp_path / "out", model=str(tmp_path / "tok"),
                   template="chatml")  # fmt: skip
    assert _config(tmp_path / "out")["chat_template"] == "jinja"


def test_tokenize_profile_axolotl_takes_the_options(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    from sftforge.cli.main import main

    data = tmp_path / "d.jsonl"
    data.write_bytes(b"".join(s.to_json() + b"\n" for s in SAMPLES[:2]))
    out = tmp_path / "o.parquet"
    args = ["tokenize", str(data), str(out), "--tokenizer", str(model_dir), "--profile", "axolotl"]
    assert main([*args, "--option", "roles_to_train=[user, assistant]",
                 "--option", "train_on_eos=none"]) == 0  # fmt: skip
    rows = pq.read_table(out).to_pylist()
    tok = load_tokenizer(str(model_dir))
    first = [t for t in rows[0]["labels"] if t != -100]
    assert tok.decode(first) == "你好[1, 2] 是列表"
    assert main([*args, "--option", "nope=1"]) != 0
    assert "unknown axolotl option" in capsys.readouterr().err


# --- axolotl itself (slow; needs its environment) -------------------------------------------------


def _axolotl_python() -> Path | None:
    venv = Path(os.environ.get("SFTFORGE_AXOLOTL_VENV") or ROOT / ".bench-venvs" / "axolotl")
    python = venv / "bin" / "python"
    return python if python.exists() else None


@pytest.mark.slow
def test_axolotl_loads_the_moved_export_as_the_profile_encodes_it(
    tmp_path: Path, model_dir: Path
) -> None:
    python = _axolotl_python()
    if python is None:
        pytest.skip("no axolotl environment (SFTFORGE_AXOLOTL_VENV or .bench-venvs/axolotl)")
    from sftforge.export.check import PEERS, compare_rows, profile_rows

    result = export_samples(SAMPLES, "axolotl", tmp_path / "out", model=str(model_dir),
                            max_length=512)  # fmt: skip
    moved = tmp_path / "moved"
    (tmp_path / "out").rename(moved)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    rows_file = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [str(python), str(PEERS / "axolotl.py"), str(moved), str(rows_file)],
        cwd=moved, capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["trainer"] == "axolotl 0.19.0" and info["rows"] == len(SAMPLES)
    theirs = [
        (r["input_ids"], r["labels"])
        for r in map(json.loads, rows_file.read_text(encoding="utf-8").splitlines())
    ]
    assert result.profile is not None
    mine, rejected = profile_rows("axolotl", SAMPLES, str(model_dir), result.profile)
    c = compare_rows(mine, theirs)
    assert (rejected, c.identical, c.profile_rows, c.trainer_rows) == (0, 3, 3, 3), c


_ANALYZE = """
import json, sys
from axolotl.prompt_strategies.jinja_template_analyzer import JinjaTemplateAnalyzer
paths = json.loads(sys.stdin.read())
print(json.dumps({p: sorted(JinjaTemplateAnalyzer(open(p, encoding="utf-8").read())
                            .get_message_vars("messages")) for p in paths}))
"""


@pytest.mark.slow
def test_message_vars_are_axolotls_on_the_bundled_templates() -> None:
    python = _axolotl_python()
    if python is None:
        pytest.skip("no axolotl environment (SFTFORGE_AXOLOTL_VENV or .bench-venvs/axolotl)")
    from sftforge.chat.profiles.axolotl_vars import template_message_vars

    paths = sorted(
        str(p) for p in (ROOT / "src" / "sftforge" / "chat" / "templates").glob("*.jinja")
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["AXOLOTL_DO_NOT_TRACK"] = "1"
    proc = subprocess.run(
        [str(python), "-c", _ANALYZE], input=json.dumps(paths), capture_output=True, text=True,
        env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(theirs) == len(paths) > 5
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        assert sorted(template_message_vars(text)) == theirs[path], path
